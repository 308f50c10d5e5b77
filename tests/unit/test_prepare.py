"""kdseq-prepare: every bad input gets a clear error and leaves nothing behind; a good one gives fairseq data."""
import json
import os


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
