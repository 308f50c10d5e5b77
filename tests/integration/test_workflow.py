"""The main recipe end to end through its command (scripts/demo.sh, the Snakemake workflow) on a user's corpus, tiny
settings: prepare with a split, teacher, regeneration, cache, four students, evaluation, table and plot. Then what
the workflow decides: a rerun runs nothing; a changed student setting reruns the students and nothing upstream;
the on-policy students are added without touching the others; the teacher's check stops the run when told to, and
warns beside the table otherwise; a second corpus keeps to its own folder."""
import json
import os
import re
import subprocess

import yaml

from tests.conftest import ROOT, command_path, make_pairs, write_tsv

# the tiny recipe's settings over config/demo.yaml: the 800-pair toy corpus, 40 valid and test pairs, a few updates
TINY_RECIPE = {"src": "en", "tgt": "de", "valid_size": 40, "test_size": 40, "vocab_size": 60, "teacher_updates": 60,
               "teacher_extra": "--warmup-updates 20 --validate-interval 100 --save-interval 100", "checks": "warn"}


def tiny_recipe(tmp_path, **settings):
    """A config file of the tiny recipe (``settings`` over TINY_RECIPE) on its own toy corpus, mine.tsv."""
    corpus = write_tsv(tmp_path / "mine.tsv", list(dict.fromkeys(make_pairs(900, seed=7)))[:800])
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump({"corpus": corpus, **TINY_RECIPE, **settings}))
    return conf


def run_demo(env, *args, timeout=900):
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def planned(res):
    """{rule: jobs} of a dry run's (or a run's) job table."""
    table = (res.stdout + res.stderr).split("Job stats:")[1].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
            if m.group(1) != "total"}


def test_demo_on_own_corpus_then_reruns_then_changes(tmp_path):
    pairs = list(dict.fromkeys(make_pairs(900, seed=7)))[:800]
    corpus = write_tsv(tmp_path / "mine.tsv", pairs)
    env = dict(os.environ, PATH=command_path(), KDSEQ_SETUP="0", WORK=str(tmp_path / "work"),
               CORPUS=corpus, SRC="en", TGT="de", VALID_SIZE="40", TEST_SIZE="40", VOCAB_SIZE="60",
               TEACHER_UPDATES="60", STUDENT_UPDATES="20", JOBS="2", KDSEQ_DEVICE="cpu",
               TEACHER_EXTRA="--warmup-updates 20 --validate-interval 100 --save-interval 100",
               STUDENT_EXTRA="--warmup-updates 10 --validate-interval 100 --save-interval 100",
               REGEN_EXTRA="--keep-original")
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    warn = ("--config", "checks=warn")  # a teacher of 60 updates fails the checks: the run goes on, warned
    res = run_demo(env, *warn)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    work = tmp_path / "work"
    mine = work / "corpus-mine"
    counts = json.load(open(mine / "data" / "prepare.json"))
    assert counts["valid_pairs"] == 40 and counts["test_pairs"] == 40
    assert counts["train_pairs"] == 800 - 80
    assert sorted(p for p in os.listdir(work) if not p.startswith(".")) == ["corpus-mine"]
    results = mine / "results"
    table = (results / "demo-table.md").read_text()
    assert table in res.stdout  # printed at the end, with where everything is
    assert f"outputs: data {mine / 'data' / 'bin'}, models {mine / 'models'}" in res.stdout
    for name in ("teacher", "student-baseline", "student-word-kd", "student-seq-kd", "student-seq-inter"):
        for beam in (1, 5):
            hyp = (results / f"{name}.test.beam{beam}.hyp").read_text(encoding="utf-8").splitlines()
            assert len(hyp) == 40
            assert f"| {name} | fairseq float32 | {beam} |" in table
        if name != "teacher":
            assert f"| {name}-ct2-int8 | ctranslate2 int8 | 1 |" in table
            assert json.load(open(mine / "models" / name / "training.json"))["checkpoint"] == "checkpoint_best.pt"
    assert (results / "bleu-vs-speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    regen = json.load(open(mine / "models" / "teacher" / "regenerated" / "best" / "regenerate.json"))
    assert regen["sentences"] == 720
    # the checks' findings stand beside the table, and were said during the run
    teacher_bleu = json.load(open(results / "teacher.test.beam5.json"))["bleu"]
    assert teacher_bleu < 3
    finding = f"teacher: {teacher_bleu:.2f} BLEU with beam 5 on test (under 3)"
    assert "## Warnings" in table and f"- {finding}" in table
    assert f"kdseq-check: warning: {finding}" in res.stderr
    for log in ("train-teacher", "regenerate", "cache", "train-student-seq-kd", "evaluate-student-seq-kd"):
        assert (mine / "logs" / f"{log}.log").stat().st_size > 0  # one log per job, under the work folder

    # everything is up to date: a rerun runs nothing
    again = run_demo(env, *warn)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr

    # a changed student setting reruns the students, their evaluations and the table, nothing upstream
    plan = run_demo(dict(env, STUDENT_UPDATES="21"), *warn, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned(plan) == {"student": 4, "evaluate": 4, "evaluate_deployed": 4, "report": 1, "all": 1}
    assert "params have changed since last execution" in plan.stdout

    # the on-policy continuation adds two students; the other outputs stay as they were
    kept = {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file() and "results" not in p.parts
            and "logs" not in p.parts}
    on = run_demo(dict(env, ONPOLICY="1", ONPOLICY_UPDATES="4"), *warn)
    assert on.returncode == 0, on.stdout[-3000:] + on.stderr[-3000:]
    assert planned(on) == {"student_continued": 2, "evaluate": 2, "evaluate_deployed": 2, "report": 1, "all": 1}
    log = (mine / "logs" / "train-student-on-policy.log").read_text()
    assert re.search(r"kd_on_policy[ =]100\b", log) and "loading pretrained model from" in log, log[-2000:]
    table = (results / "demo-table.md").read_text()
    for name in ("student-on-policy", "student-seq-kd-more"):
        assert f"| {name} | fairseq float32 | 5 |" in table
    assert {p: p.stat().st_mtime_ns for p in kept} == kept

    # checks: stop ends the run at the teacher's check: one line with what was seen and what to try, and its log
    trained = {p: p.stat().st_mtime_ns for p in (mine / "models").glob("student-*/checkpoint_last.pt")}
    stop = run_demo(env, "--config", "checks=stop")
    assert stop.returncode == 1
    assert f"kdseq workflow: failed: kdseq-check: error: {finding}" in stop.stderr
    assert f"(log: {mine / 'logs' / 'check-teacher.log'})" in stop.stderr
    assert "(to go on regardless: checks: warn)" in stop.stderr
    assert {p: p.stat().st_mtime_ns for p in trained} == trained and len(trained) == 6  # no student went on

    # a second corpus in the same work folder (teacher only) keeps to its own folder: the first is not touched
    files = {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file()}
    theirs = write_tsv(tmp_path / "theirs.tsv", list(dict.fromkeys(make_pairs(900, seed=8)))[:800])
    res = run_demo(dict(env, CORPUS=theirs, STUDENTS="0", TEACHER_UPDATES="20"), *warn)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / "corpus-theirs" / "models" / "teacher" / "checkpoint_best.pt").exists()
    assert "| teacher | fairseq float32 | 5 |" in (work / "corpus-theirs" / "results" / "demo-table.md").read_text()
    assert {p: p.stat().st_mtime_ns for p in mine.rglob("*") if p.is_file()} == files
    assert sorted(p for p in os.listdir(work) if not p.startswith(".")) == ["corpus-mine", "corpus-theirs"]
