"""kdseq-report --plot: the Pareto front by hand, and a real PNG from kdseq-evaluate-shaped results."""
import json
import subprocess
import sys

import matplotlib.colors
import matplotlib.image as plt_image
import numpy as np

from kdseq.cli.report import main as report_main
from kdseq.plot import pareto_front, plot


def colour_pixels(image, colour):
    """How many pixels of ``image`` (H, W, 3 floats) are ``colour`` (a matplotlib name), to within antialiasing."""
    return int((np.abs(image - np.array(matplotlib.colors.to_rgb(colour))).max(-1) < 0.02).sum())


def test_pareto_front_hand_computed():
    # (speed, BLEU): a slow good teacher, a fast weak student, one dominated point, one tie on speed
    pts = [(40.0, 9.8), (950.0, 5.2), (120.0, 5.0), (950.0, 4.3), (150.0, 6.9)]
    assert pareto_front(pts) == [0, 4, 1]  # sorted by speed; (120, 5.0) and (950, 4.3) are beaten


def result(name, beam, bleu, speed, backend="fairseq", compute="float32"):
    return {"name": name, "beam": beam, "bleu": bleu, "chrf": 30.0, "rougeL": 20.0, "sent_per_s": speed,
            "tgt_tokens_per_s": 20 * speed, "wall_s": 1.0, "params": 1000, "device": "cpu x2", "backend": backend,
            "compute_type": compute, "bleu_signature": "nrefs:1|tok:13a", "chrf_signature": "nrefs:1|nc:6"}


def test_report_writes_a_png(tmp_path, capsys):
    files = []
    for i, r in enumerate([result("teacher", 5, 9.75, 39.6), result("student-seq-kd", 1, 5.28, 155.0),
                           result("student-seq-kd-ct2-int8", 1, 5.23, 966.0, "ctranslate2", "int8")]):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(r))
    png = tmp_path / "plot.png"
    assert report_main([*map(str, files), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = plt_image.imread(png)[:, :, :3]
    assert image.shape == (600, 960, 3)  # 8 x 5 inches at 120 dpi
    assert colour_pixels(image, "tab:red") > 20 and colour_pixels(image, "tab:blue") > 40  # 1 teacher, 2 students
    students_only = tmp_path / "students.png"
    front = plot([json.loads(f.read_text()) for f in files[1:]], students_only)
    assert front == [0, 1] and colour_pixels(plt_image.imread(students_only)[:, :, :3], "tab:red") == 0
    assert "| student-seq-kd-ct2-int8 | ctranslate2 int8 | 1 |" in capsys.readouterr().out
    assert report_main([*map(str, files), "--plot", str(tmp_path / "plot.txt")]) == 2
    assert "give a .png, .svg or .pdf" in capsys.readouterr().err


def test_headline_report_counts_distinct_and_looping_headlines(tmp_path, capsys):
    """--headline shows how many different headlines a model wrote (a constant output scores ROUGE too) and how many
    loop (a token three times in a row): from the result's counts, or for a result written before it was counted, from its .hyp file beside it."""
    new = dict(result("student", 1, 0.5, 90.0), split="test1", rouge1=10.5, rouge2=1.1, sentences=4,
               distinct_hypotheses=3, looping_hypotheses=2)
    old = dict(result("pipeline", 5, 0.2, 9.0), split="test1", rouge1=9.0, rouge2=0.0, sentences=4)
    (tmp_path / "new.test1.beam1.json").write_text(json.dumps(new))
    (tmp_path / "old.test1.beam5.json").write_text(json.dumps(old))
    (tmp_path / "old.test1.beam5.hyp").write_text("参数:\n参数:\n示例例例\n参数:\n", encoding="utf-8")
    (tmp_path / "older.json").write_text(json.dumps(dict(old, name="older")))  # no .hyp: unknown
    files = [tmp_path / f for f in ("new.test1.beam1.json", "old.test1.beam5.json", "older.json")]
    assert report_main([*map(str, files), "--headline"]) == 0
    out = capsys.readouterr().out
    assert "| R-1 | R-2 | R-L | BLEU | distinct | loops |" in out
    assert "| student | test1 | 1 | 10.50 | 1.10 | 20.00 | 0.50 | 3 / 4 | 2 / 4 |" in out
    assert "| pipeline | test1 | 5 | 9.00 | 0.00 | 20.00 | 0.20 | 2 / 4 | 1 / 4 |" in out
    assert "| older | test1 | 5 | 9.00 | 0.00 | 20.00 | 0.20 | ? / 4 | ? / 4 |" in out


def test_report_into_a_closed_pipe_stops_without_a_traceback(tmp_path):
    """`kdseq-report ... | head -1`: the reader closes the pipe early; the command stops with one status, no traceback."""
    files = []
    for i in range(400):  # a table larger than the pipe's buffer, so that a write meets the closed pipe
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(result(f"model-{i}-" + "x" * 200, 1, 5.0, 100.0)))
    code = "import sys; from kdseq.cli.report import cli_main; sys.argv[0] = 'kdseq-report'; cli_main()"
    proc = subprocess.Popen([sys.executable, "-c", code, *map(str, files)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"| model |")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
