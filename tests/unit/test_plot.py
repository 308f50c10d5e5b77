"""kdseq-report --plot: the Pareto front by hand, and a real PNG from kdseq-evaluate-shaped results."""
import json

from kdseq.cli.report import main as report_main
from kdseq.plot import pareto_front


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
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "| student-seq-kd-ct2-int8 | ctranslate2 int8 | 1 |" in capsys.readouterr().out
    assert report_main([*map(str, files), "--plot", str(tmp_path / "plot.txt")]) == 2
    assert "give a .png, .svg or .pdf" in capsys.readouterr().err
