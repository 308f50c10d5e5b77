"""kdseq-prepare: every bad input gets a clear error and leaves nothing behind; a good one gives fairseq data."""
import json
import os

import numpy as np


from kdseq.cli.prepare import main as prepare_main
from tests.conftest import make_pairs, write_tsv


def run(tmp_path, *args):
    out = tmp_path / "out"
    return prepare_main([*map(str, args), "--src-lang", "en", "--tgt-lang", "de", "--out-dir", str(out)]), out


def assert_clean(tmp_path, out):
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".out.tmp")], "temporary folder left behind"


def test_line_counts_differ_names_both_files(tmp_path, capsys):
    (tmp_path / "c.en").write_text("a\nb\nc\n")
    (tmp_path / "c.de").write_text("x\ny\n")
    code, out = run(tmp_path, "--train", tmp_path / "c", "--valid-size", 1, "--test-size", 1)
    err = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path / 'c.en'} has 3 lines" in err and f"{tmp_path / 'c.de'} has 2" in err
    assert_clean(tmp_path, out)


def test_empty_input(tmp_path, capsys):
    (tmp_path / "e.tsv").write_text("")
    code, out = run(tmp_path, "--train", tmp_path / "e.tsv")
    assert code == 2 and "e.tsv: the file is empty" in capsys.readouterr().err
    assert_clean(tmp_path, out)


def test_undecodable_bytes_name_the_line(tmp_path, capsys):
    (tmp_path / "b.tsv").write_bytes("good\tgut\nalso good\tauch gut\nbad\t".encode() + b"Gr\xf6\xdfe\n")
    code, out = run(tmp_path, "--train", tmp_path / "b.tsv")
    err = capsys.readouterr().err
    assert code == 2 and "b.tsv:3: bytes that are not UTF-8" in err
    assert_clean(tmp_path, out)


def test_tsv_line_without_tab(tmp_path, capsys):
    (tmp_path / "t.tsv").write_text("a\tb\nno tab here\n")
    code, out = run(tmp_path, "--train", tmp_path / "t.tsv")
    assert code == 2 and "t.tsv:2: expected 2 tab-separated fields" in capsys.readouterr().err
    assert_clean(tmp_path, out)


def test_missing_file(tmp_path, capsys):
    code, out = run(tmp_path, "--train", tmp_path / "nope.tsv")
    assert code == 2 and "nope.tsv: no such file" in capsys.readouterr().err


def test_overlap_is_refused_then_dropped(tmp_path, capsys):
    train = make_pairs(300, seed=3)
    train = list(dict.fromkeys(train))
    train_tsv = write_tsv(tmp_path / "train.tsv", train)
    valid = write_tsv(tmp_path / "valid.tsv", [train[0]] + make_pairs(5, seed=99, min_len=12, max_len=12))
    test = write_tsv(tmp_path / "test.tsv", make_pairs(5, seed=98, min_len=13, max_len=13))
    code, out = run(tmp_path, "--train", train_tsv, "--valid", valid, "--test", test, "--vocab-size", 60)
    err = capsys.readouterr().err
    assert code == 2 and "1 valid source sentences also occur in train" in err and "--drop-overlap" in err
    assert_clean(tmp_path, out)
    code, out = run(tmp_path, "--train", train_tsv, "--valid", valid, "--test", test, "--vocab-size", 60,
                    "--drop-overlap")
    assert code == 0
    counts = json.loads((out / "prepare.json").read_text())
    assert counts["train_dropped_overlap_with_valid"] == 1
    assert counts["train_pairs"] == len(train) - 1
    assert train[0][0] not in (out / "raw" / "train.en").read_text().splitlines()


def test_input_inside_out_dir_is_refused(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    tsv = write_tsv(tmp_path / "out" / "c.tsv", make_pairs(50, seed=1))
    code, _ = run(tmp_path, "--train", tsv, "--valid-size", 5, "--test-size", 5)
    assert code == 2 and "lies inside --out-dir" in capsys.readouterr().err
    assert os.path.exists(tsv)


def test_random_split_outputs(tmp_path):
    pairs = list(dict.fromkeys(make_pairs(400, seed=5)))
    tsv = write_tsv(tmp_path / "all.tsv", pairs + [("", "leer")])
    code, out = run(tmp_path, "--train", tsv, "--valid-size", 20, "--test-size", 30, "--vocab-size", 60)
    assert code == 0
    counts = json.loads((out / "prepare.json").read_text())
    assert counts["train_dropped_empty"] == 1
    assert (counts["train_pairs"], counts["valid_pairs"], counts["test_pairs"]) == (len(pairs) - 50, 20, 30)
    raw = {s: (out / "raw" / f"{s}.en").read_text().splitlines() for s in ("train", "valid", "test")}
    assert not set(raw["test"]) & set(raw["train"])
    # joined dictionary: both sides share one vocabulary file content
    assert (out / "bin" / "dict.en.txt").read_text() == (out / "bin" / "dict.de.txt").read_text()
    for split in ("train", "valid", "test"):
        assert (out / "bin" / f"{split}.en-de.de.bin").exists()
    # a rerun with the same inputs and settings skips (nothing rebuilt); with another setting it is refused
    mtime = os.path.getmtime(out / "prepare.json")
    assert run(tmp_path, "--train", tsv, "--valid-size", 20, "--test-size", 30, "--vocab-size", 60)[0] == 0
    assert run(tmp_path, "--train", tsv, "--valid-size", 20, "--test-size", 30)[0] == 2  # default --vocab-size
    assert os.path.getmtime(out / "prepare.json") == mtime


def test_extra_test_sets_and_vocabulary_from_other_texts(tmp_path, capsys):
    """--extra-test binarizes more held-out sets as test1, test2 (raw text beside them); --spm-train-text lets the
    sentencepiece model learn text this corpus lacks, and the dictionary then holds every piece of the model: a
    second corpus prepared with --spm-model/--dict binarizes those words without <unk>."""
    from fairseq.data import Dictionary, data_utils

    pairs = list(dict.fromkeys(make_pairs(400, seed=11)))
    train = write_tsv(tmp_path / "train.tsv", pairs[:300])
    valid = write_tsv(tmp_path / "valid.tsv", pairs[300:320])
    test = write_tsv(tmp_path / "test.tsv", pairs[320:340])
    extra = write_tsv(tmp_path / "extra.tsv", pairs[340:365])
    other = "zebra quokka narwhal axolotl pangolin"  # words of no toy pair
    (tmp_path / "more.txt").write_text((other + "\n") * 50)
    code, out = run(tmp_path, "--train", train, "--valid", valid, "--test", test, "--extra-test", extra,
                    "--extra-test", valid, "--vocab-size", 120, "--spm-train-text", tmp_path / "more.txt")
    assert code == 0, capsys.readouterr().err
    assert (out / "raw" / "test1.de").read_text() == "".join(t + "\n" for _, t in pairs[340:365])
    d = Dictionary.load(str(out / "bin" / "dict.en.txt"))
    for split, n in (("test", 20), ("test1", 25), ("test2", 20)):
        ds = data_utils.load_indexed_dataset(str(out / "bin" / f"{split}.en-de.en"), d)
        assert len(ds) == n
    assert not (out / "dict.txt").exists()
    meta = json.loads((out / "prepare.json").read_text())
    assert meta["test1_pairs"] == 25 and meta["settings"]["extra_tests"] == 2
    # a corpus with the other words, reusing model and dictionary: no <unk>
    second = write_tsv(tmp_path / "second.tsv", [(f"{other} one", f"{other} eins")] * 3 + pairs[:40])
    code = prepare_main(["--train", str(second), "--valid", str(valid), "--test", str(test), "--src-lang", "en",
                         "--tgt-lang", "de", "--out-dir", str(tmp_path / "second"), "--drop-overlap",
                         "--spm-model", str(out / "spm.model"), "--dict", str(out / "bin" / "dict.en.txt")])
    assert code == 0, capsys.readouterr().err
    ds = data_utils.load_indexed_dataset(str(tmp_path / "second" / "bin" / "train.en-de.en"), d)
    assert all(d.unk() not in ds[i].tolist() for i in range(len(ds)))
    # without --spm-train-text the same words are <unk> in the second corpus: the test can fail
    code, out2 = prepare_main(["--train", str(train), "--valid", str(valid), "--test", str(test), "--src-lang", "en",
                               "--tgt-lang", "de", "--out-dir", str(tmp_path / "plain"), "--vocab-size", "120"]), \
        tmp_path / "plain"
    assert code == 0
    import sentencepiece as spm

    d2 = Dictionary.load(str(out2 / "bin" / "dict.en.txt"))
    pieces = spm.SentencePieceProcessor(model_file=str(out2 / "spm.model")).encode(other, out_type=str)
    assert any(d2.index(p) == d2.unk() for p in pieces)
    pieces = spm.SentencePieceProcessor(model_file=str(out / "spm.model")).encode(other, out_type=str)
    assert all(d.index(p) != d.unk() for p in pieces)


def test_extra_test_needs_given_held_out_sets(tmp_path, capsys):
    pairs = list(dict.fromkeys(make_pairs(100, seed=12)))
    code, out = run(tmp_path, "--train", write_tsv(tmp_path / "t.tsv", pairs), "--extra-test",
                    write_tsv(tmp_path / "x.tsv", pairs[:5]), "--valid-size", 5, "--test-size", 5)
    assert code == 2 and "--extra-test needs --valid and --test" in capsys.readouterr().err
    assert_clean(tmp_path, out)


def test_truncate_source_keeps_the_lead_of_every_source_and_no_row_is_dropped(tmp_path, capsys):
    """--truncate-source N: every source and teacher source of every split is cut to its first N pieces (the same
    pieces as the whole text's first N), the target never; a long source then no longer drops its row under
    --max-len; raw/ keeps the whole text; the count is recorded and another N is a rebuild, not a reuse."""
    import sentencepiece as spm

    # headline-like rows: a long source (and teacher source), a short target
    rows = [(s, " ".join(t.split()[:2]), " ".join(reversed(s.split())))
            for s, t in dict.fromkeys(make_pairs(300, seed=21, min_len=2, max_len=12))]
    for name, part in (("train", rows[:260]), ("valid", rows[260:280]), ("test", rows[280:])):
        (tmp_path / f"{name}.tsv").write_text("".join("\t".join(r) + "\n" for r in part), encoding="utf-8")
    common = ["--valid", tmp_path / "valid.tsv", "--test", tmp_path / "test.tsv", "--vocab-size", 80,
              "--teacher-source-lang", "et", "--max-len", 6]
    code, whole = prepare_main([*map(str, ["--train", tmp_path / "train.tsv", *common, "--src-lang", "en",
                                           "--tgt-lang", "de", "--out-dir", tmp_path / "whole"])]), tmp_path / "whole"
    assert code == 0, capsys.readouterr().err
    code, out = run(tmp_path, "--train", tmp_path / "train.tsv", *common, "--truncate-source", 4,
                    "--spm-model", whole / "spm.model", "--dict", whole / "bin" / "dict.en.txt")
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "prepare.json").read_text())
    sp = spm.SentencePieceProcessor(model_file=str(whole / "spm.model"))
    for split, part in (("valid", rows[260:280]), ("test", rows[280:])):
        for c, side in ((0, "en"), (2, "teacher.et")):
            want = [" ".join(sp.encode(r[c], out_type=str)[:4]) for r in part]
            assert (out / "spm" / f"{split}.{side}").read_text().splitlines() == want
        assert (out / "spm" / f"{split}.de").read_text().splitlines() == \
            [" ".join(sp.encode(r[1], out_type=str)) for r in part]  # the target whole
        assert (out / "raw" / f"{split}.en").read_text().splitlines() == [r[0] for r in part]
        cut = sum(1 for r in part if max(len(sp.encode(r[0])), len(sp.encode(r[2]))) > 4)
        assert meta[f"{split}_source_truncated"] == cut > 0
    # --max-len 6 dropped the rows with a long source from the whole preparation; the cut ones keep them all
    assert meta["train_pairs"] == 260 > json.loads((whole / "prepare.json").read_text())["train_pairs"]
    assert meta["train_dropped_too_long"] == 0
    assert meta["settings"]["truncate_source"] == 4
    assert run(tmp_path, "--train", tmp_path / "train.tsv", *common, "--truncate-source", 5, "--spm-model",
               whole / "spm.model", "--dict", whole / "bin" / "dict.en.txt")[0] == 2
    assert "--truncate-source: was 4, now 5" in capsys.readouterr().err
    code, _ = run(tmp_path, "--train", tmp_path / "train.tsv", "--truncate-source", 0)
    assert code == 2 and "--truncate-source 0: must be at least 1" in capsys.readouterr().err


def test_a_training_text_with_a_held_out_lead_is_refused_then_dropped(tmp_path, capsys):
    """With --truncate-source, two texts that differ only after their first N pieces are the same input: a training
    text with a test text's lead is refused (named), and with --drop-overlap removed from train and counted."""
    pairs = list(dict.fromkeys(make_pairs(200, seed=31, min_len=6, max_len=10)))
    test = pairs[180:190]
    src, tgt = test[0]
    twin = (src + " " + src, tgt + " " + tgt)  # the same lead, another (longer) text: not equal as raw text
    train = write_tsv(tmp_path / "train.tsv", pairs[:170] + [twin])
    common = ["--train", train, "--valid", write_tsv(tmp_path / "valid.tsv", pairs[170:180]),
              "--test", write_tsv(tmp_path / "test.tsv", test), "--vocab-size", 80, "--truncate-source", 3]
    code, out = run(tmp_path, *common)
    err = capsys.readouterr().err
    assert code == 2 and "training sources have the same first 3 pieces (--truncate-source) as a valid or test" in err
    assert "--drop-overlap" in err
    assert_clean(tmp_path, out)
    code, out = run(tmp_path, *common, "--drop-overlap")
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "prepare.json").read_text())
    assert meta["train_dropped_same_lead_as_held_out"] == 1  # the one twin planted
    raw = (out / "raw" / "train.en").read_text().splitlines()
    assert twin[0] not in raw and len(raw) == meta["train_pairs"]
    spm_train = set((out / "spm" / "train.en").read_text().splitlines())
    held = set((out / "spm" / "test.en").read_text().splitlines()) | set(
        (out / "spm" / "valid.en").read_text().splitlines())
    assert not spm_train & held


def _in_memory_split(pairs, sizes, seed):
    """The split written the plain way, every row held: empty pairs, then repeated pairs dropped (first kept), held-out
    sources drawn from the distinct sources in first-occurrence order, one row per held-out source (its first)."""
    import random

    from kdseq.data.splits import input_key

    rows = list(dict.fromkeys(r for r in pairs if all(r)))
    by_src = {}
    for r in rows:
        by_src.setdefault(input_key(r[0]), []).append(r)
    sources = list(by_src)
    order = list(range(len(sources)))
    random.Random(seed).shuffle(order)
    held = sorted(order[: sum(sizes)])
    random.Random(seed + 1).shuffle(held)
    valid_src, test_src = {sources[i] for i in held[:sizes[0]]}, {sources[i] for i in held[sizes[0]:]}
    return ([r for r in rows if input_key(r[0]) not in valid_src | test_src],
            [by_src[s][0] for s in sources if s in valid_src], [by_src[s][0] for s in sources if s in test_src])


def test_streamed_split_equals_the_split_of_rows_held_in_memory():
    """scan_train + random_split keep only digests of the rows, then stream the corpus again: the same train, valid
    and test, in the same order, as the plain split; with repeated sources (other targets), whitespace twins of a
    source and empty pairs."""
    import random

    from kdseq.data.splits import input_key, random_split, rows_at, scan_train

    r = random.Random(7)
    sources = [f"s{i} " + " ".join(r.choice("abcdef") for _ in range(r.randint(1, 5))) for i in range(300)]
    pairs = []
    for _ in range(2500):
        s = r.choice(sources)
        if r.random() < 0.1:
            s = "  " + s.replace(" ", "  ")  # the same input to sentencepiece
        pairs.append(("" if r.random() < 0.03 else s, r.choice(["x", "y", ""]) + str(r.randint(0, 2))))
    counts = {}
    train = scan_train(lambda: iter(pairs), counts)
    valid_at, test_at = random_split(train, (20, 30), 5, counts)
    held = rows_at(lambda: iter(pairs), np.concatenate([valid_at, test_at]))
    want_train, want_valid, want_test = _in_memory_split(pairs, (20, 30), 5)
    assert list(train.rows()) == want_train
    assert [held[n] for n in valid_at.tolist()] == want_valid and [held[n] for n in test_at.tolist()] == want_test
    assert counts["train_read"] == 2500
    assert counts["train_dropped_empty"] == sum(1 for p in pairs if not all(p))
    rows = [p for p in pairs if all(p)]
    distinct = list(dict.fromkeys(rows))
    held_sources = {input_key(p[0]) for p in want_valid + want_test}
    assert counts["train_dropped_duplicate"] == len(rows) - len(distinct) > 0
    assert counts["heldout_dropped_repeated_source"] == sum(
        input_key(p[0]) in held_sources for p in distinct) - len(held_sources) > 0


def test_spm_sentences_is_recorded_and_a_change_refused(tmp_path, capsys):
    """--spm-sentences changes the sentencepiece model of a corpus longer than the sample: recorded, another value
    refused; a prepare.json that predates the flag (the sample was then 2M lines) stands for the default when its
    training text was shorter than both samples."""
    data = write_tsv(tmp_path / "c.tsv", make_pairs(700, seed=4))  # about 1,300 lines of text
    code, out = run(tmp_path, "--train", data, "--valid-size", 20, "--test-size", 20, "--vocab-size", 60)
    assert code == 0
    record = json.loads((out / "prepare.json").read_text())
    assert record["settings"]["spm_sentences"] == 1_000_000
    code, _ = run(tmp_path, "--train", data, "--valid-size", 20, "--test-size", 20, "--vocab-size", 60,
                  "--spm-sentences", 5000)
    assert code == 2 and "--spm-sentences: was 1000000, now 5000" in capsys.readouterr().err
    del record["settings"]["spm_sentences"]  # as written before the flag existed
    (out / "prepare.json").write_text(json.dumps(record))
    code, _ = run(tmp_path, "--train", data, "--valid-size", 20, "--test-size", 20, "--vocab-size", 60)
    assert code == 0 and "already prepared" in capsys.readouterr().err
    code, _ = run(tmp_path, "--train", data, "--valid-size", 20, "--test-size", 20, "--vocab-size", 60,
                  "--spm-sentences", 1000)  # fewer lines than its training text: the model would differ
    assert code == 2 and "--spm-sentences: was None, now 1000" in capsys.readouterr().err


def test_held_out_sizes_scale_with_the_corpus_and_a_small_training_share_is_said(tmp_path, capsys):
    """By default 5% of the distinct sources each (at least 100, at most 1000); a split that leaves training under
    80% of the pairs is said in one line; sizes that leave nothing are refused, naming what auto came to."""
    pairs = list(dict.fromkeys(make_pairs(2600, seed=5)))[:2400]
    code, out = run(tmp_path, "--train", write_tsv(tmp_path / "big.tsv", pairs), "--vocab-size", 60)
    assert code == 0
    counts = json.loads((out / "prepare.json").read_text())
    assert (counts["valid_pairs"], counts["test_pairs"], counts["train_pairs"]) == (120, 120, 2160)
    assert "training keeps" not in capsys.readouterr().err
    small = write_tsv(tmp_path / "small.tsv", pairs[:600])
    code, _ = run(tmp_path / "s", "--train", small, "--vocab-size", 60)
    assert code == 0
    assert ("kdseq-prepare: training keeps 400 of the 600 pairs (67%): 100 valid and 100 test pairs are held out; "
            "give smaller --valid-size and --test-size") in capsys.readouterr().err
    code, _ = run(tmp_path / "t", "--train", write_tsv(tmp_path / "tiny.tsv", pairs[:100]), "--test-size", 10)
    assert code == 2
    assert ("--train: 100 distinct source sentences cannot give --valid-size auto (100) and --test-size 10 and "
            "leave some for training") in capsys.readouterr().err
