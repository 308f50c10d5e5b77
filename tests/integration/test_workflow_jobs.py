"""The workflow's plan and its refusals, without running models: the jobs each recipe plans (shards, optional
stages), a wrong config key or value refused in one line before any job, a work folder of the earlier shell recipes
refused; and, running the tiny recipe's first stages, a killed training and a killed regeneration resume (from
checkpoint_last.pt, from their chunks) instead of starting over."""
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, ROOT, command_path, make_pairs, write_tsv
from tests.integration.test_workflow import TINY_RECIPE, planned, tiny_recipe

SNAKEFILE = os.path.join(ROOT, "workflow", "Snakefile")
DEMO = os.path.join(ROOT, "config", "demo.yaml")
HEADLINES = os.path.join(ROOT, "config", "headlines.yaml")


def snakemake(work, *args, env=None, timeout=600):
    return subprocess.run([os.path.join(BIN, "snakemake"), "-s", SNAKEFILE, "--directory", str(work), "--cores", "2",
                           *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def test_plans_of_both_recipes(tmp_path):
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert planned(res) == {"libreoffice": 1, "teacher": 1, "evaluate": 5, "check_teacher": 1, "regenerate": 1,
                            "check_regeneration": 1, "cache": 1, "student": 4, "evaluate_deployed": 4, "report": 1,
                            "all": 1}
    # regeneration and cache as shard jobs and a merge; the on-policy students; no students at all
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n", "--config", "regen_shards=3", "cache_shards=2",
                    "onpolicy=True")
    plan = planned(res)
    assert (plan["regenerate_shard"], plan["regenerate_merge"], plan["cache_shard"], plan["cache_merge"]) == (3, 1, 2, 1)
    assert plan["student_continued"] == 2 and plan["evaluate"] == 7 and "regenerate" not in plan
    # the long setting: its own folder, the teacher's and students' settings, each seed's seq-KD student continued
    # three ways (on-policy, as many updates off-policy, about as long off-policy), each from its own seed's student
    res = snakemake(tmp_path / "w", "--configfile", DEMO, os.path.join(ROOT, "config", "demo-long.yaml"), "-n", "-p")
    assert res.returncode == 0, res.stderr[-2000:]
    plan = planned(res)
    assert (plan["student"], plan["student_continued"], plan["evaluate"], plan["evaluate_deployed"]) == (8, 6, 15, 14)
    for line in ("long/models/teacher --max-update 4800", "--dropout 0.1", "--max-update 1600",
                 "--patience 2", "SEED=2 bash", "long/models/student-seq-kd-more-time-seed2 --finetune-from-model "
                 "long/models/student-seq-kd-seed2/checkpoint_best.pt", "--max-update 1000 ",
                 "long/models/student-on-policy-seed2 long/models/teacher/checkpoint_best.pt --kd-on-policy 1",
                 "long/logs/time/train-student-on-policy-seed2.tsv"):
        assert line in res.stdout, line
    assert "long/models/student-on-policy --finetune" not in res.stdout
    # the template for one's own corpus, filled in
    corpus = write_tsv(tmp_path / "mine.tsv", make_pairs(10, seed=1))
    res = snakemake(tmp_path / "w", "--configfile", DEMO, os.path.join(ROOT, "config", "template.yaml"), "-n",
                    "--config", f"corpus={corpus}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert planned(res)["prepare_corpus"] == 1 and "corpus-mine/models/teacher/training.json" in res.stdout
    # more distillation data: mono text translated and joined, the seq-KD corpus filtered by the teacher's scores and
    # by a backward model's (one pass, shared by every share), Kim & Rush's combination, two seeds each
    mono = tmp_path / "mono.en"
    mono.write_text("one sentence\n")
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n", "-p", "--config", f"mono={mono}", "seeds=[1,2]",
                    "deployed=False", "students=[seq-kd-mono,seq-kd-teacher5,seq-kd-backward10,seq-kd-backward20,"
                    "seq-inter-word]")
    assert res.returncode == 0, res.stderr[-2000:]
    plan = planned(res)
    assert {k: plan[k] for k in ("prepare_mono", "regenerate_mono", "combine_mono", "backward", "filter", "student",
                                 "evaluate")} == {"prepare_mono": 1, "regenerate_mono": 1, "combine_mono": 1,
                                                  "backward": 1, "filter": 4, "student": 10, "evaluate": 11}
    assert "cache" not in plan and "evaluate_deployed" not in plan
    for line in ("--by backward --filter-worst 0.0 --backward-path models/backward/checkpoint_best.pt",
                 "--by teacher --filter-worst 0.05", "--source-lang de --target-lang en",
                 "SEED=2 bash", "word-kd models/teacher/regenerated/bleu/bin models/student-seq-inter-word "
                 "models/teacher/checkpoint_best.pt", "seq-kd models/teacher/filtered/backward20/bin"):
        assert line in res.stdout, line
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n", "--config", "students=[]")
    assert planned(res) == {"libreoffice": 1, "teacher": 1, "evaluate": 1, "check_teacher": 1, "report": 1, "all": 1}
    # the headline recipe, and its union student; the long setting is an overlay with its own folder
    res = snakemake(tmp_path / "w", "--configfile", HEADLINES, "-n")
    assert res.returncode == 0, res.stderr[-2000:]
    plan = planned(res)
    assert (plan["prepare"], plan["teacher"], plan["regenerate"], plan["student"], plan["evaluate"]) == (5, 3, 2, 6, 19)
    res = snakemake(tmp_path / "w", "--configfile", HEADLINES, "-n", "--config", "union=True")
    assert planned(res)["student"] == 7 and planned(res)["union"] == 1
    res = snakemake(tmp_path / "w", "--configfile", HEADLINES, os.path.join(ROOT, "config", "headlines-long.yaml"),
                    "-n", "-p")
    assert "headlines-long/models/teacher-mt/training.json" in res.stdout and "--max-update 2000" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--config", "teacher_update=5"], "config: Additional properties are not allowed ('teacher_update' was "
                                       "unexpected) (the keys and values: workflow/schemas/translation.schema.yaml)"),
    (["--config", "teacher_updates=many"], "config teacher_updates: 'many' is not of type 'integer', 'null'"),
    (["--config", "students=[baseline, word_kd]"], "config students.1: 'word_kd' does not match"),
    (["--config", "students=[seq-kd-teacher100]"], "config students.0: 'seq-kd-teacher100' does not match"),
    (["--config", "students=[seq-kd-mono]"], "config students: seq-kd-mono trains on the teacher's translations of "
                                             "mono text: set mono"),
    (["--config", "mono=nope.txt"], "nope.txt: no such file (a plain text, one sentence a line)"),
    (["--config", "seeds=[]"], "config seeds: [] should be non-empty"),
    (["--config", "onpolicy=True", "students=[baseline]"], "config onpolicy: the on-policy continuation continues "
                                                           "the seq-KD student: add seq-kd to students"),
    (["--config", "onpolicy_time_updates=0"], "config onpolicy_time_updates: 0 is less than the minimum of 1"),
    (["--config", "checks=maybe"], "config checks: 'maybe' is not one of ['stop', 'warn']"),
    (["--config", "corpus=mine.tsv"], "config corpus: mine.tsv needs src and tgt"),
    (["--config", "recipe=other"], "config recipe: 'other': give a config file"),
])
def test_config_mistakes_are_refused_in_one_line(tmp_path, args, message):
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n", *args)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if "kdseq workflow" in line]
    assert len(lines) == 1 and message in lines[0], res.stderr[-2000:]
    assert "Traceback" not in res.stderr and not (tmp_path / "w" / "models").exists()


def test_a_work_folder_of_the_shell_recipes_is_refused_and_kept(tmp_path):
    old = tmp_path / "w" / "models" / "teacher"
    old.mkdir(parents=True)
    (old / "kdseq-stage.json").write_text("{}")
    (old / "checkpoint_best.pt").write_bytes(b"a model")
    res = snakemake(tmp_path / "w", "--configfile", DEMO, "-n")
    assert res.returncode == 1
    assert (f"kdseq workflow: error: {tmp_path / 'w' / 'models'} was made by an earlier kdseq recipe "
            "(teacher/kdseq-stage.json): the workflow neither reuses nor deletes it") in res.stderr
    assert (old / "checkpoint_best.pt").read_bytes() == b"a model"


def kill_when(cmd, env, ready, timeout=300):
    """Start ``cmd`` in a session of its own; when ``ready()``, SIGTERM the whole session (Ctrl-C, or scancel of a
    job); return its exit status."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    end = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "it ended before it could be killed"
        assert time.time() < end, "not ready in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    return proc.wait(timeout=60)


def test_a_killed_training_and_a_killed_regeneration_resume(tmp_path):
    conf = tiny_recipe(tmp_path, teacher_extra=TINY_RECIPE["teacher_extra"] + " --save-interval-updates 10",
                       regen_extra="--keep-original --chunk-size 40 --backend fairseq")
    env = dict(os.environ, PATH=command_path(), KDSEQ_DEVICE="cpu")
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    work = tmp_path / "work"
    models, logs = work / "corpus-mine" / "models", work / "corpus-mine" / "logs"
    cmd = [os.path.join(BIN, "snakemake"), "-s", SNAKEFILE, "--directory", str(work), "--cores", "2",
           "--rerun-incomplete", "--configfile", DEMO, str(conf), "--", "corpus-mine/models/regenerate.json"]

    # the teacher, killed once it has saved a checkpoint; fairseq copies checkpoint_last.pt in place, so a kill at
    # that moment leaves it cut short: the resume takes the complete checkpoint it was copied from
    last = models / "teacher" / "checkpoint_last.pt"
    assert kill_when(cmd, env, lambda: last.exists() and (models / "teacher" / "checkpoint_best.pt").exists()) != 0
    assert not (models / "teacher" / "training.json").exists()
    assert last.exists()  # not deleted with the failed job's outputs
    with open(last, "r+b") as f:
        f.truncate(4096)

    # then the regeneration, killed once two of its 18 chunks are written
    chunks = models / "teacher" / "regenerated" / "chunks"
    # (counted as finished chunks: a chunk being written is a temporary file beside them)
    assert kill_when(cmd, env, lambda: chunks.is_dir() and len(list(chunks.glob("*.jsonl"))) >= 2) != 0
    assert (models / "teacher" / "training.json").exists()
    train_log = (logs / "train-teacher.log").read_text()
    assert "checkpoint_last.pt was cut short (killed while fairseq copied it): resuming from checkpoint_" in train_log
    assert "Loaded checkpoint corpus-mine/models/teacher/checkpoint_last.pt (epoch" in train_log
    assert "@ 0 updates" not in train_log.split("Loaded checkpoint")[1].splitlines()[0]
    done = {p.name: p.stat().st_mtime_ns for p in chunks.glob("*.jsonl")}
    assert 2 <= len(done) < 18

    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resuming: {len(done)} of this shard's 18 chunks are already done" in (logs / "regenerate.log").read_text()
    assert {p: (chunks / p).stat().st_mtime_ns for p in done} == done  # decoded once, kept
    assert len(list(chunks.glob("*.jsonl"))) == 18
