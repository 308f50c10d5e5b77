"""kdseq.checks on hand-written fairseq logs and results: a teacher whose valid loss rose for most of its run or that
scores under the bar, a regeneration that dropped most pairs, a model that repeats itself; and kdseq-check's gates
(stop: exit 3 and one line; warn: the findings in its file)."""
import json

from kdseq import checks
from kdseq.cli import check as check_cli
from kdseq.data.splits import held_out_sizes


def fairseq_log(losses):
    return "".join(f"2026-12-07 10:00:00 | INFO | valid | epoch {i:03d} | valid on 'valid' subset | loss {v} | "
                   f"nll_loss 1.0 | ppl 2.0 | num_updates {100 * i}\n" for i, v in enumerate(losses, 1))


def test_valid_losses_are_read_from_a_fairseq_log():
    text = fairseq_log([8.6, 9.1]) + "epoch 001 | train | loss 9.9\nvalid on 'other' subset | loss 1.0\n"
    assert checks.valid_losses(text) == [8.6, 9.1]


def test_a_loss_that_rose_for_most_of_the_run_is_found():
    # the case seen on a 2,989-pair corpus: 8.6 -> 10.7
    found = checks.loss_trend([8.6, 9.4, 9.2, 10.1, 10.7])
    assert found.startswith("its valid loss rose from 8.60 to 10.70 (3 of 4 validations higher")
    assert "more data, fewer updates or a smaller model" in found
    assert checks.loss_trend([8.6, 7.1, 6.0, 6.2]) is None  # fell, then one rise: a normal run
    assert checks.loss_trend([8.6, 9.0, 8.0, 8.1, 8.0]) is None  # ends below where it began
    assert checks.loss_trend([8.6]) is None and checks.loss_trend([]) is None
    assert checks.loss_trend([5.0, 5.5]) is None  # two validations: no trend
    assert checks.loss_trend([5.0, 5.5, 5.6]) is not None


def test_teacher_findings_name_the_model_and_the_bar():
    good = {"bleu": 9.34, "beam": 5, "split": "test"}
    assert checks.teacher(fairseq_log([8.0, 6.0, 5.5]), good, 3.0) == []
    bad = {"bleu": 0.41, "beam": 5, "split": "test"}
    found = checks.teacher(fairseq_log([8.6, 9.9, 10.7]), bad, 3.0, name="teacher-mt")
    assert [f.split(":")[0] for f in found] == ["teacher-mt", "teacher-mt"]
    assert "0.41 BLEU with beam 5 on test (under 3)" in found[1]
    assert checks.teacher(fairseq_log([8.0, 6.0]), None, 3.0) == []  # no result: the loss alone


def test_a_regeneration_that_dropped_most_pairs_is_found():
    counts = {"sentences": 982, "distilled_kept": 225, "dropped": {"empty": 2, "length_ratio": 90,
                                                                   "headline_ratio": 0, "repeats": 665}}
    found = checks.regeneration(counts, 0.5)
    assert len(found) == 1 and found[0].startswith("regeneration: kept 225 of 982 of the teacher's outputs "
                                                   "(dropped: 2 empty, 90 length ratio, 665 repeats)")
    assert checks.regeneration(dict(counts, distilled_kept=500), 0.5) == []  # 49% dropped
    assert checks.regeneration(dict(counts, distilled_kept=500), 0.4) != []


def test_outputs_that_repeat_or_loop_are_found():
    ok = {"name": "student-seq-kd", "sentences": 1235, "distinct_hypotheses": 1150, "looping_hypotheses": 40,
          "beam": 5, "backend": "fairseq"}
    assert checks.outputs(ok) == []
    same = dict(ok, distinct_hypotheses=3, looping_hypotheses=1000)
    assert checks.outputs(same) == ["student-seq-kd (beam 5): 3 distinct outputs for 1235 inputs and 1000 of 1235 "
                                    "outputs loop; train it longer or on more data, or decode with "
                                    "--no-repeat-ngram-size"]
    assert checks.outputs(dict(ok, distinct_hypotheses=3))[0].endswith("inputs; train it longer or on more data")
    ct2 = dict(ok, name="student-seq-kd-ct2-int8", beam=1, backend="ctranslate2", looping_hypotheses=400)
    assert checks.outputs(ct2)[0].startswith("student-seq-kd-ct2-int8 (beam 1, ctranslate2): 400 of 1235")


def test_kdseq_check_stops_or_warns(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(fairseq_log([8.6, 9.9, 10.7]))
    result = tmp_path / "teacher.json"
    result.write_text(json.dumps({"bleu": 0.41, "beam": 5, "split": "test"}))
    out = tmp_path / "checks" / "teacher.txt"
    out.parent.mkdir()
    args = ["teacher", "--train-log", str(log), "--result", str(result), "--out", str(out)]
    assert check_cli.main([*args, "--on-problem", "stop"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kdseq-check: error: teacher: its valid loss rose from 8.60 to 10.70")
    assert "; and teacher: 0.41 BLEU" in err[0] and err[0].endswith("(to go on regardless: checks: warn)")
    assert not out.exists()
    assert check_cli.main([*args, "--on-problem", "warn"]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert capsys.readouterr().err.count("kdseq-check: warning: teacher:") == 2
    log.write_text(fairseq_log([8.6, 6.0]))
    result.write_text(json.dumps({"bleu": 9.3, "beam": 5, "split": "test"}))
    assert check_cli.main([*args, "--on-problem", "stop"]) == 0 and out.read_text() == ""
    assert check_cli.main(["teacher", "--train-log", str(tmp_path / "none.log")]) == 2
    assert "--train-log" in capsys.readouterr().err


def test_held_out_sizes_scale_with_the_corpus():
    assert held_out_sizes(("auto", "auto"), 2989) == (149, 149)
    assert held_out_sizes(("auto", "auto"), 1000) == (100, 100)  # at least 100
    assert held_out_sizes(("auto", "auto"), 5_000_000) == (1000, 1000)  # at most 1000
    assert held_out_sizes((40, "auto"), 30_000) == (40, 1000)
