"""The deployer's numbers (batch-1 latency percentiles) and the table over seeds, against values worked by hand."""
from kdseq.deployment import summarise
from kdseq.report import markdown_table, seed_summary


def test_latency_percentiles_are_numpy_linear_interpolation_by_hand():
    probe = {"latency_ms": {"1": [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]}, "peak_rss_mb": 300.5, "base_rss_mb": 250.0}
    s = summarise(probe, 1)
    # sorted 1 2 3 4 5 10: the median halfway between 3 and 4; p90 at rank 0.9 * 5 = 4.5, halfway between 5 and 10
    assert s == {"latency_sentences": 6, "latency_ms_p50": 3.5, "latency_ms_p90": 7.5, "peak_rss_mb": 300.5,
                 "base_rss_mb": 250.0}


def result(name, beam, bleu, chrf, **extra):
    return {"name": name, "beam": beam, "bleu": bleu, "chrf": chrf, "backend": "fairseq", "compute_type": "float32",
            "decoder": "", "rougeL": 1.0, "sent_per_s": 1.0, "tgt_tokens_per_s": 1.0, "wall_s": 1.0, "params": 10,
            "device": "cpu", "bleu_signature": "b", "chrf_signature": "c", **extra}


def test_seed_summary_means_spreads_and_gap_to_the_teacher():
    rs = [result("teacher", 1, 9.0, 30.0, sent_per_s=80.0), result("teacher", 5, 10.0, 31.0, sent_per_s=40.0),
          result("student-a", 1, 5.0, 20.0, sent_per_s=100.0), result("student-a-seed2", 1, 6.0, 23.0,
                                                                     sent_per_s=140.0),
          result("student-a", 5, 6.5, 21.0, sent_per_s=50.0), result("student-a-seed2", 5, 6.0, 22.0, sent_per_s=60.0),
          result("student-b", 1, 4.0, 19.0, sent_per_s=10.0),
          result("student-a-ct2-int8", 1, 5.2, 20.0, sent_per_s=400.0, backend="ctranslate2", compute_type="int8"),
          result("student-a-seed2-ct2-int8", 1, 5.8, 22.0, sent_per_s=600.0, backend="ctranslate2",
                 compute_type="int8")]
    rows = seed_summary(rs).splitlines()
    # speed: the mean sentences per second over the teacher's beam 5 (40): (100 + 140) / 2 / 40 = 3.0
    assert "| student-a | fairseq float32 | 1 | 2 | 5.50 | 1.00 | 21.50 | 3.00 | -4.50 | 3.0x |" in rows
    assert "| student-a | fairseq float32 | 5 | 2 | 6.25 | 0.50 | 21.50 | 1.00 | -3.75 | 1.4x |" in rows
    assert "| student-b | fairseq float32 | 1 | 1 | 4.00 | - | 19.00 | - | -6.00 | 0.2x |" in rows
    # a deployed model's seeds: the seed sits before the decoder's suffix in its name
    assert "| student-a-ct2-int8 | ctranslate2 int8 | 1 | 2 | 5.50 | 0.60 | 21.00 | 2.00 | -4.50 | 12.5x |" in rows
    assert "| teacher | fairseq float32 | 5 | 1 | 10.00 | - | 31.00 | - | - | 1.0x |" in rows
    assert rows[-1].endswith("speed / teacher: the mean sentences per second over the teacher's at beam 5 (40.0).")
    assert seed_summary([r for r in rs if "seed2" not in r["name"]]) is None  # one seed each: no summary


def test_deploy_columns_only_where_measured():
    plain = markdown_table([result("m", 1, 1.0, 2.0)])
    assert "p50 ms" not in plain
    both = markdown_table([result("m", 1, 1.0, 2.0), result("n", 1, 1.0, 2.0, latency_ms_p50=2.25,
                                                            latency_ms_p90=3.0, peak_rss_mb=123.4)])
    assert "| p50 ms | p90 ms | peak MB | params | device |" in both
    assert "| 2.2 | 3.0 | 123 | 10 | cpu |" in both and "| - | - | - | 10 | cpu |" in both

