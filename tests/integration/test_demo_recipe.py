"""The demo recipe end to end on a user's corpus (CORPUS=... SRC= TGT= bash scripts/demo.sh), tiny settings:
prepare with a split, teacher, regeneration, cache, four students, evaluation, table and plot; a rerun redoes
nothing, and a rerun with other settings is refused."""
import json
import os
import re
import subprocess

from tests.conftest import ROOT, command_path, make_pairs, write_tsv


def run_demo(env, timeout=900):
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_demo_on_own_corpus_end_to_end_then_resumed_then_refused(tmp_path):
    pairs = list(dict.fromkeys(make_pairs(900, seed=7)))[:800]
    corpus = write_tsv(tmp_path / "mine.tsv", pairs)
    env = dict(os.environ, PATH=command_path(), KDSEQ_SETUP="0", WORK=str(tmp_path / "work"),
               CORPUS=corpus, SRC="en", TGT="de", VALID_SIZE="40", TEST_SIZE="40", VOCAB_SIZE="60",
               TEACHER_UPDATES="60", STUDENT_UPDATES="20", JOBS="2", KDSEQ_DEVICE="cpu",
               TEACHER_EXTRA="--warmup-updates 20 --validate-interval 100 --save-interval 100",
               STUDENT_EXTRA="--warmup-updates 10 --validate-interval 100 --save-interval 100",
               REGEN_EXTRA="--keep-original")
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    res = run_demo(env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    work = tmp_path / "work"
    mine = work / "corpus-mine"
    counts = json.load(open(mine / "data" / "prepare.json"))
    assert counts["valid_pairs"] == 40 and counts["test_pairs"] == 40
    assert counts["train_pairs"] == 800 - 80
    assert sorted(os.listdir(work)) == ["corpus-mine"]  # models and results beside the corpus's data
    results = mine / "results"
    table = (results / "demo-table.md").read_text()
    for name in ("teacher", "student-baseline", "student-word-kd", "student-seq-kd", "student-seq-inter"):
        for beam in (1, 5):
            hyp = (results / f"{name}.test.beam{beam}.hyp").read_text(encoding="utf-8").splitlines()
            assert len(hyp) == 40
            assert f"| {name} | fairseq float32 | {beam} |" in table
        if name != "teacher":
            assert f"| {name}-ct2-int8 | ctranslate2 int8 | 1 |" in table
    assert (results / "bleu-vs-speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    regen = json.load(open(mine / "models" / "teacher" / "regenerated" / "best" / "regenerate.json"))
    assert regen["sentences"] == 720

    # every stage is kept: a rerun trains, decodes and evaluates nothing
    again = run_demo(env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training" not in again.stdout and "evaluating" not in again.stdout and "regenerates" not in again.stdout

    # ONPOLICY=1 adds the seq-KD student continued on its own samples and, as its control, on the seq-KD corpus;
    # the default stages' outputs stay as they were
    kept = {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file() and "kdseq-stage" not in p.name
            and p.parent.name != "results"}
    on = run_demo(dict(env, ONPOLICY="1", ONPOLICY_UPDATES="4"))
    assert on.returncode == 0, on.stdout[-3000:] + on.stderr[-3000:]
    assert "student-baseline: training" not in on.stdout
    log = (mine / "models" / "student-on-policy.log").read_text()
    assert re.search(r"kd_on_policy[ =]100\b", log) and "loading pretrained model from" in log, log[-2000:]
    table = (results / "demo-table.md").read_text()
    for name in ("student-on-policy", "student-seq-kd-more"):
        assert f"| {name} | fairseq float32 | 5 |" in table
    assert {p: p.stat().st_mtime_ns for p in kept} == kept

    # other settings are refused, the trained model left as it was
    teacher = mine / "models" / "teacher" / "checkpoint_best.pt"
    before = teacher.stat().st_mtime
    other = run_demo(dict(env, TEACHER_UPDATES="61"))
    assert other.returncode == 1 and "teacher was made from other inputs or settings (command: was" in other.stderr
    assert teacher.stat().st_mtime == before
    other = run_demo(dict(env, REGEN_EXTRA=""))
    assert other.returncode == 1 and "regenerated was made from other inputs or settings (args: was" in other.stderr

    # a second corpus in the same WORK folder (teacher only) keeps to its own folder: the first is not touched
    files = {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file()}
    theirs = write_tsv(tmp_path / "theirs.tsv", list(dict.fromkeys(make_pairs(900, seed=8)))[:800])
    res = run_demo(dict(env, CORPUS=theirs, STUDENTS="0", TEACHER_UPDATES="20"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / "corpus-theirs" / "models" / "teacher" / "checkpoint_best.pt").exists()
    assert (work / "corpus-theirs" / "results" / "teacher.test.beam5.json").exists()
    assert {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file()} == files
    assert sorted(os.listdir(work)) == ["corpus-mine", "corpus-theirs"]

    # a corpus without its language codes: one clear line
    bad = run_demo(dict(env, SRC="", WORK=str(tmp_path / "w2")))
    assert bad.returncode == 1 and "needs SRC=... and TGT=..." in bad.stderr
