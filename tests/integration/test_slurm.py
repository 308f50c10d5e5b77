"""The scale-out recipes on a real single-node Slurm cluster (scripts/slurm-local.sh: Debian's slurmctld, slurmd and
munge): regeneration and the top-k cache as sbatch job arrays of shards with their merge after them
(--dependency=afterok), the same bytes as one run; a shard cancelled mid-run (scancel) and submitted again resumes
to the same bytes; a two-task distributed student (srun, fairseq's Slurm initialisation) equals one process with
--update-freq 2; the tiny recipe run by Snakemake on the cluster (--profile profiles/slurm) equals the local run.
Skipped, with the reason, only where the packages cannot be installed."""
import getpass
import hashlib
import os
import re
import shlex
import socket
import subprocess
import time

import numpy as np
import pytest
import torch

from tests.conftest import BIN, ROOT, TINY, cli, command_path, env_without_torch_override, one_core
from tests.integration.test_distributed import free_port, largest_difference
from tests.integration.test_workflow import tiny_recipe

SCRIPT = os.path.join(ROOT, "scripts", "slurm-local.sh")
pytestmark = pytest.mark.slurm  # CI runs these as a step of their own


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The cluster's environment for sbatch/srun (SLURM_CONF, this venv first on PATH); started here and stopped
    after the module, unless it was running already."""
    env = dict(os.environ)
    running = subprocess.run(["bash", SCRIPT, "status"], capture_output=True, text=True, env=env)
    was_running = "slurmd running" in running.stdout
    res = subprocess.run(["bash", SCRIPT, "start"], capture_output=True, text=True, env=env, timeout=900)
    if res.returncode != 0:
        reason = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1]
        if "could not install" in reason or "need root" in reason or "needs root" in reason:
            pytest.skip(f"no Slurm cluster: {reason}")
        raise AssertionError(res.stdout + res.stderr)
    conf = re.search(r"SLURM_CONF=(\S+)", res.stdout).group(1)
    env = dict(one_core(env_without_torch_override()), SLURM_CONF=conf, PATH=os.pathsep.join([BIN, os.environ["PATH"]]),
               KDSEQ_CT2_CACHE=str(tmp_path_factory.mktemp("ct2")))
    yield env
    if not was_running:
        subprocess.run(["bash", SCRIPT, "stop"], capture_output=True, env=env)


@pytest.fixture(autouse=True)
def no_jobs_left(cluster):
    """Each test starts and ends with no job of this user on the cluster (its state outlives a restart: a job left
    pending by a failed test would hold the next ones)."""
    subprocess.run(["scancel", "--user", getpass.getuser()], env=cluster)
    yield
    subprocess.run(["scancel", "--user", getpass.getuser()], env=cluster)


def sbatch(env, command, *args):
    """Submit ``command`` (a shell line) as a batch job; its job id."""
    out = subprocess.run(["sbatch", "--parsable", "--cpus-per-task", "1", "--mem", "1500", *map(str, args),
                          "--wrap", command], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return out.stdout.strip().split(";")[0]


def job_states(env, job):
    out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, env=env).stdout
    return re.findall(r"JobState=(\w+)", out)


def wait(env, job, timeout=300):
    """Wait until every task of ``job`` has ended; their states."""
    end = time.time() + timeout
    while time.time() < end:
        states = job_states(env, job)
        if states and all(s not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING") for s in states):
            return states
        time.sleep(0.5)
    raise AssertionError(f"job {job} still running after {timeout} s: {job_states(env, job)}")


def drain(env, timeout=120):
    """Wait until the cluster runs no job (a cancelled one may still be completing)."""
    end = time.time() + timeout
    while time.time() < end:
        out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=env).stdout
        if not out.strip():
            return
        time.sleep(0.5)
    raise AssertionError(f"jobs still queued after {timeout} s")


def regenerate_line(data, teacher, out, *args):
    return " ".join(shlex.quote(str(x)) for x in ("kdseq-regenerate", data, "--teacher-path", teacher, "--out-dir",
                                                   out, "--threads", "1", "--no-progress", *args))


def tree_digest(folder):
    """sha256 of every file under ``folder`` (relative names), regenerate.json left out (it holds timings)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            if name != "regenerate.json":
                path = os.path.join(root, name)
                out[os.path.relpath(path, folder)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def test_regeneration_as_a_job_array_then_the_merge_equals_one_run(cluster, toy_prepared, toy_teacher, tmp_path):
    data = toy_prepared / "bin"
    decode = ("--split", "test", "--backend", "ctranslate2", "--nbest", "5", "--chunk-size", "16")
    cli("kdseq-regenerate", data, "--teacher-path", toy_teacher, "--out-dir", tmp_path / "one", "--threads", "1",
        "--no-progress", *decode, "--select", "best,bleu", env=cluster)
    out = tmp_path / "array"
    array = sbatch(cluster, regenerate_line(data, toy_teacher, out, *decode, "--num-shards", "3") +
                   " --shard-id $SLURM_ARRAY_TASK_ID", "--array", "0-2", "-o", tmp_path / "shard-%a.log")
    merge_line = " ".join(shlex.quote(str(x)) for x in ("kdseq-regenerate", data, "--split", "test", "--out-dir", out,
                                                         "--merge", "--select", "best,bleu", "--no-progress"))
    merge = sbatch(cluster, merge_line, "--dependency", f"afterok:{array}", "-o", tmp_path / "merge.log")
    assert set(wait(cluster, array)) == {"COMPLETED"}, [p.read_text() for p in tmp_path.glob("shard-*.log")]
    assert wait(cluster, merge) == ["COMPLETED"], (tmp_path / "merge.log").read_text()
    for sel in ("best", "bleu"):
        assert tree_digest(out / sel) == tree_digest(tmp_path / "one" / sel) and tree_digest(out / sel)


def test_cache_shards_as_a_job_array_then_the_merge_equal_one_run(cluster, toy_prepared, toy_teacher, tmp_path):
    data = toy_prepared / "bin"
    common = (data, "--splits", "valid", "--topk", "4", "--cpu")
    cli("kdseq-cache-teacher", *common, "--teacher-path", toy_teacher, "--out-dir", tmp_path / "one", env=cluster)
    out = tmp_path / "array"
    line = " ".join(shlex.quote(str(x)) for x in ("kdseq-cache-teacher", *common, "--teacher-path", toy_teacher,
                                                   "--out-dir", out, "--num-shards", "2"))
    array = sbatch(cluster, line + " --shard-id $SLURM_ARRAY_TASK_ID", "--array", "0-1", "-o", tmp_path / "s-%a.log")
    merge_line = " ".join(shlex.quote(str(x)) for x in ("kdseq-cache-teacher", *common, "--out-dir", out,
                                                         "--num-shards", "2", "--merge"))
    merge = sbatch(cluster, merge_line, "--dependency", f"afterok:{array}", "-o", tmp_path / "merge.log")
    assert set(wait(cluster, array)) == {"COMPLETED"}
    assert wait(cluster, merge) == ["COMPLETED"], (tmp_path / "merge.log").read_text()
    for name in ("ids.npy", "lp.npy", "offsets.npy"):
        assert np.array_equal(np.load(out / "valid" / name), np.load(tmp_path / "one" / "valid" / name)), name


def test_a_cancelled_shard_submitted_again_resumes_to_the_same_bytes(cluster, toy_prepared, toy_teacher, tmp_path):
    data = toy_prepared / "bin"
    decode = ("--backend", "fairseq", "--chunk-size", "100", "--max-sentences", "16", "--max-repeats", "0",
              "--max-len-ratio", "0")
    out = tmp_path / "resumed"
    line = regenerate_line(data, toy_teacher, out, *decode)
    job = sbatch(cluster, line, "-o", tmp_path / "first.log")
    chunks = out / "chunks"
    end = time.time() + 300
    while time.time() < end and not (chunks.is_dir() and len(list(chunks.glob("*.jsonl"))) >= 2):
        assert job_states(cluster, job) in (["PENDING"], ["RUNNING"], ["CONFIGURING"]), \
            (tmp_path / "first.log").read_text()
        time.sleep(0.2)
    subprocess.run(["scancel", job], env=cluster, check=True)
    assert wait(cluster, job) == ["CANCELLED"]
    done = len(list(chunks.glob("*.jsonl")))
    assert 2 <= done < 30 and not (out / "best").exists()  # cancelled mid-run, nothing merged
    again = sbatch(cluster, line, "-o", tmp_path / "again.log")
    assert wait(cluster, again) == ["COMPLETED"], (tmp_path / "again.log").read_text()
    assert "resuming" in (tmp_path / "again.log").read_text()
    cli("kdseq-regenerate", data, "--teacher-path", toy_teacher, "--out-dir", tmp_path / "one", "--threads", "1",
        "--no-progress", *decode, env=cluster)
    assert tree_digest(out / "best") == tree_digest(tmp_path / "one" / "best")


def test_a_two_task_student_under_srun_equals_update_freq_2(cluster, toy_prepared, toy_teacher, tmp_path):
    common = [toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--max-update", "3", "--disable-validation",
              "--task", "translation_kd", "--criterion", "word_kd", "--teacher-path", toy_teacher, "--kd-alpha", "0.5",
              "--label-smoothing", "0.1"]
    drain(cluster)  # both cores free: a job that cannot start on one node now would be sized for two
    res = subprocess.run(["srun", "--nodes", "1", "--ntasks", "2", "--cpus-per-task", "1", "--mem-per-cpu", "1500",
                          os.path.join(BIN, "fairseq-train"), *map(str, common), "--save-dir", str(tmp_path / "two"),
                          "--distributed-backend", "gloo", "--distributed-port", str(free_port())],
                         capture_output=True, text=True, env=cluster, cwd=ROOT, timeout=300,
                         stdin=subprocess.DEVNULL)  # srun forwards its stdin to the first task: give it none
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "distributed init (rank 0)" in res.stdout + res.stderr
    cli("fairseq-train", *common, "--save-dir", tmp_path / "one", "--update-freq", "2", cwd=ROOT, env=cluster)
    assert largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5
    assert torch.load(tmp_path / "two" / "checkpoint_last.pt", weights_only=False)["optimizer_history"][-1][
        "num_updates"] == 3


def test_start_again_is_a_no_op_and_a_port_in_use_is_refused(cluster, tmp_path):
    again = subprocess.run(["bash", SCRIPT, "start"], capture_output=True, text=True, env=cluster)
    assert again.returncode == 0 and "already running" in again.stdout
    with socket.socket() as busy:  # another cluster's folder, whose slurmctld port something else holds
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(cluster, KDSEQ_SLURM_DIR=str(tmp_path / "other"), SLURMCTLD_PORT=str(port))
        res = subprocess.run(["bash", SCRIPT, "start"], capture_output=True, text=True, env=env)
    assert res.returncode == 2 and f"port {port} is in use" in res.stderr, res.stderr
    assert not (tmp_path / "other").exists()  # nothing written, nothing started
    status = subprocess.run(["bash", SCRIPT, "status"], capture_output=True, text=True, env=env).stdout
    assert status.count("not running") == 3


def test_the_workflow_on_slurm_equals_the_local_run(cluster, tmp_path):
    """The tiny main recipe (teacher, regeneration, the seq-KD student, their evaluations) run by Snakemake with
    --profile profiles/slurm, every job submitted with sbatch (the regeneration as two shard jobs and a merge), gives
    the bytes of the same recipe run on this machine in one regeneration job."""
    conf = tiny_recipe(tmp_path, student_updates=20, regen_extra="--keep-original", students=["seq-kd"],
                       deployed=False, student_extra="--warmup-updates 10 --validate-interval 100 --save-interval 100")
    env = dict(cluster, PATH=command_path(cluster), KDSEQ_DEVICE="cpu")
    env.pop("OMP_NUM_THREADS", None), env.pop("MKL_NUM_THREADS", None)  # each job's threads are Snakemake's
    base = [os.path.join(BIN, "snakemake"), "-s", os.path.join(ROOT, "workflow", "Snakefile"), "--cores", "2",
            "--configfile", os.path.join(ROOT, "config", "demo.yaml"), str(conf)]
    local = subprocess.run([*base, "--directory", tmp_path / "local"], env=env, capture_output=True, text=True,
                           timeout=900)
    assert local.returncode == 0, local.stderr[-3000:]
    slurm = subprocess.run([*base, "--directory", tmp_path / "slurm", "--profile", os.path.join(ROOT, "profiles", "slurm"),
                            "--config", "regen_shards=2", "--slurm-init-seconds-before-status-checks", "2",
                            "--seconds-between-status-checks", "2", "--set-resources", "teacher:mem_mb=2000",
                            "regenerate_shard:mem_mb=2000", "student:mem_mb=2000"],
                           env=env, capture_output=True, text=True, timeout=1200)
    assert slurm.returncode == 0, slurm.stderr[-3000:]
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", slurm.stdout + slurm.stderr)
    assert len(submitted) == 8, slurm.stderr[-3000:]  # 12 jobs; 4 localrules (the checks, the table, all) ran here
    regen = "corpus-mine/models/teacher/regenerated"
    for sel in ("best", "bleu"):
        assert tree_digest(tmp_path / "slurm" / regen / sel / "bin") == tree_digest(tmp_path / "local" / regen / sel / "bin")
    for name in ("teacher", "student-seq-kd"):
        for beam in (1, 5):
            hyp = f"corpus-mine/results/{name}.test.beam{beam}.hyp"
            assert (tmp_path / "slurm" / hyp).read_bytes() == (tmp_path / "local" / hyp).read_bytes()
