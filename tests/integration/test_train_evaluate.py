"""Through the real CLIs: kdseq-prepare -> fairseq-train --user-dir kdseq -> kdseq-evaluate / fairseq-generate."""
import json
import os

import pytest

from tests.conftest import ROOT, cli, env_without_torch_override

def test_evaluate_greedy_and_beam(toy_prepared, toy_teacher, tmp_path):
    import torch

    state = torch.load(toy_teacher, map_location="cpu", weights_only=False)["model"]
    # every parameter once: the shared embeddings and output projection are one tensor (--share-all-embeddings),
    # loaded as one storage; buffers (sinusoidal positions' _float_tensor, version counters) are not parameters
    params = sum({v.data_ptr(): v.numel() for k, v in state.items()
                  if v.is_floating_point() and not k.endswith(("_float_tensor", "version"))}.values())
    res = cli("kdseq-evaluate", toy_prepared / "bin", "--path", toy_teacher, "--beams", "1,4", "--name", "toy",
              "--output-dir", tmp_path, "--cpu", env=env_without_torch_override())
    assert "| toy | fairseq float32 | 1 |" in res.stdout and "| toy | fairseq float32 | 4 |" in res.stdout
    assert "nrefs:1|case:mixed" in res.stdout
    refs = (toy_prepared / "raw" / "test.de").read_text(encoding="utf-8").splitlines()
    for beam in (1, 4):
        r = json.loads((tmp_path / f"toy.test.beam{beam}.json").read_text())
        hyps = (tmp_path / f"toy.test.beam{beam}.hyp").read_text(encoding="utf-8").splitlines()
        assert r["beam"] == beam and r["sentences"] == len(refs) == len(hyps)
        # A word-for-word language: the tiny model scores ~80 BLEU after 600 updates, and only if hypotheses are
        # written in corpus order (shuffled, they would score near 0).
        assert r["bleu"] > 60, r
        exact = sum(h == t for h, t in zip(hyps, refs))
        assert exact > 0.3 * len(refs)
        assert r["params"] == params and r["sent_per_s"] == pytest.approx(r["sentences"] / r["wall_s"])
        assert r["tgt_tokens_per_s"] == pytest.approx(r["target_tokens"] / r["wall_s"])
        assert r["bleu_signature"].startswith("nrefs:1") and "rougeL" in r
        assert r["distinct_hypotheses"] == len(set(hyps)) > 1
        # what a deployer asks: each of the 100 sentences decoded alone in a process that loaded only the model
        assert r["latency_sentences"] == 100 and 0 < r["latency_ms_p50"] <= r["latency_ms_p90"]
        assert r["peak_rss_mb"] > r["base_rss_mb"] > 0
    table = cli("kdseq-report", tmp_path / "toy.test.beam1.json", tmp_path / "toy.test.beam4.json").stdout
    assert table.count("| toy |") == 2 and "| p50 ms | p90 ms | peak MB |" in table
    assert "BLEU signature: nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp" in table
    assert "chrF signature: nrefs:1|case:mixed|eff:yes|nc:6|nw:0" in table


def test_evaluate_with_ctranslate2_as_deployed(toy_prepared, toy_teacher, tmp_path):
    """--backend ctranslate2: the converted checkpoint decodes the same test split in corpus order and scores like
    fairseq's decoder (float32: the same greedy translations, one line of 100 allowed to round apart; int8:
    close); what it cannot do is refused."""
    env = dict(env_without_torch_override(), KDSEQ_CT2_CACHE=str(tmp_path / "ct2"))
    common = ("kdseq-evaluate", toy_prepared / "bin", "--path", toy_teacher, "--beams", "1", "--output-dir", tmp_path)
    cli(*common, "--name", "fs", env=env)
    res = cli(*common, "--backend", "ctranslate2", "--threads", "1", env=env)
    base = toy_teacher.parent.name  # the default name: the checkpoint's folder, with the decoder appended
    assert f"| {base}-ct2-float32 | ctranslate2 float32 | 1 |" in res.stdout
    cli(*common, "--backend", "ctranslate2", "--compute-type", "int8", "--threads", "1", env=env)
    fs = json.loads((tmp_path / "fs.test.beam1.json").read_text())
    f32 = json.loads((tmp_path / f"{base}-ct2-float32.test.beam1.json").read_text())
    i8 = json.loads((tmp_path / f"{base}-ct2-int8.test.beam1.json").read_text())
    assert (f32["backend"], f32["compute_type"], i8["compute_type"]) == ("ctranslate2", "float32", "int8")
    same = sum(a == b for a, b in zip((tmp_path / "fs.test.beam1.hyp").read_text().splitlines(),
                                      (tmp_path / f"{base}-ct2-float32.test.beam1.hyp").read_text().splitlines()))
    # float32 in both: the same greedy output (100 of 100 lines on a 2-core x86 machine); another CPU's kernels may
    # round one differently
    assert same >= fs["sentences"] - 1 and abs(f32["bleu"] - fs["bleu"]) < 1.0, (same, f32["bleu"], fs["bleu"])
    # int8 on a 64-wide toy model loses more than on real models (about 8 BLEU here), but it is a real decode in
    # corpus order: shuffled lines would score near 0
    assert i8["bleu"] > 60 and i8["sentences"] == fs["sentences"]
    # the deployed model's process imports CTranslate2, never torch or fairseq: far less memory than fairseq's
    assert i8["latency_sentences"] == f32["latency_sentences"] == 100
    assert i8["peak_rss_mb"] < fs["peak_rss_mb"] - 100, (i8["peak_rss_mb"], fs["peak_rss_mb"])
    bad = cli("kdseq-evaluate", toy_prepared / "bin", "--path", f"{toy_teacher}:{toy_teacher}", "--backend",
              "ctranslate2", check=False, env=env)
    assert bad.returncode == 2 and "decodes one checkpoint, not an ensemble" in bad.stderr
    bad = cli(*common, "--compute-type", "int8", check=False, env=env)
    assert bad.returncode == 2 and "--compute-type int8: the fairseq backend" in bad.stderr


def test_ensemble_of_identical_models_decodes_the_same(toy_prepared, toy_teacher, tmp_path):
    cli("kdseq-evaluate", toy_prepared / "bin", "--path", toy_teacher, "--beams", "1", "--name", "one",
        "--output-dir", tmp_path, "--cpu")
    cli("kdseq-evaluate", toy_prepared / "bin", "--path", f"{toy_teacher}:{toy_teacher}", "--beams", "1",
        "--name", "two", "--output-dir", tmp_path, "--cpu")
    one = json.loads((tmp_path / "one.test.beam1.json").read_text())
    two = json.loads((tmp_path / "two.test.beam1.json").read_text())
    assert two["ensemble_size"] == 2 and two["params"] == 2 * one["params"]
    assert (tmp_path / "one.test.beam1.hyp").read_text() == (tmp_path / "two.test.beam1.hyp").read_text()


def test_fairseq_generate_loads_checkpoint_with_user_dir(toy_prepared, toy_teacher, tmp_path):
    args = [toy_prepared / "bin", "--path", toy_teacher, "--cpu", "--beam", "2", "--max-sentences", "16",
            "--post-process", "sentencepiece"]
    # torch >= 2.6 refuses fairseq checkpoints by default ...
    bare = cli("fairseq-generate", *args, check=False, cwd=tmp_path, env=env_without_torch_override())
    assert bare.returncode != 0 and "weights_only" in (bare.stderr + bare.stdout)
    # ... and loading kdseq as a user dir (absolute path, from another directory) is enough to fix it.
    ok = cli("fairseq-generate", *args, "--user-dir", os.path.join(ROOT, "kdseq"), cwd=tmp_path,
             env=env_without_torch_override())
    assert "BLEU4" in ok.stdout and ok.stdout.count("\nH-") > 50


def test_evaluate_errors_name_the_problem(toy_prepared, tmp_path):
    res = cli("kdseq-evaluate", toy_prepared / "bin", "--path", tmp_path / "missing.pt", check=False)
    assert res.returncode == 2 and f"checkpoint {tmp_path / 'missing.pt'} does not exist" in res.stderr
    res = cli("kdseq-evaluate", toy_prepared / "bin", "--path", tmp_path / "x.pt", "--beams", "1,five",
              check=False)
    assert res.returncode == 2 and "--beams '1,five'" in res.stderr
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    res = cli("kdseq-evaluate", toy_prepared / "bin", "--path", tmp_path / "junk.pt", check=False)
    assert res.returncode == 2 and "cannot load checkpoint" in res.stderr and "junk.pt" in res.stderr


def test_no_repeat_ngram_size_forbids_repeats_in_both_backends(toy_prepared, toy_teacher, tmp_path):
    """--no-repeat-ngram-size 2: no bigram of pieces twice in an output, so no word bigram twice (its pieces would
    repeat the bigram across the word boundary), with fairseq's decoder and with CTranslate2 alike, which then
    agree; it changes outputs that repeated one; 1 and negative sizes are refused."""
    env = dict(env_without_torch_override(), KDSEQ_CT2_CACHE=str(tmp_path / "ct2"))
    common = ("kdseq-evaluate", toy_prepared / "bin", "--path", toy_teacher, "--beams", "1", "--output-dir", tmp_path)
    cli(*common, "--name", "free", env=env)
    cli(*common, "--name", "fs", "--no-repeat-ngram-size", "2", env=env)
    cli(*common, "--name", "ct2", "--no-repeat-ngram-size", "2", "--backend", "ctranslate2", "--threads", "1",
        env=env)

    def hyps(name):
        return (tmp_path / f"{name}.test.beam1.hyp").read_text(encoding="utf-8").splitlines()

    def repeats_a_bigram(line):
        w = line.split()
        bigrams = list(zip(w, w[1:]))
        return len(bigrams) > len(set(bigrams))

    free, fs, ct2 = hyps("free"), hyps("fs"), hyps("ct2")
    assert not any(map(repeats_a_bigram, fs)) and not any(map(repeats_a_bigram, ct2))
    assert sum(a != b for a, b in zip(free, fs)) >= sum(map(repeats_a_bigram, free))
    assert sum(a == b for a, b in zip(fs, ct2)) >= 0.95 * len(fs)
    assert json.loads((tmp_path / "fs.test.beam1.json").read_text())["no_repeat_ngram_size"] == 2
    assert json.loads((tmp_path / "free.test.beam1.json").read_text())["no_repeat_ngram_size"] == 0
    for bad_size in ("1", "-1"):
        bad = cli(*common, "--no-repeat-ngram-size", bad_size, check=False, env=env)
        assert bad.returncode == 2 and f"--no-repeat-ngram-size {bad_size}: give 0 (none) or 2 and more" in bad.stderr
