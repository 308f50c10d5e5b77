"""fairseq's own distributed training with kdseq's plugins on CPU processes (torchrun, gloo; kdseq/distributed.py):
two ranks with one batch each give the parameters of one process with --update-freq 2 on the same two batches, for
every way word_kd gets its teacher; on-policy rows are sampled per rank; a run stopped at world size 2 resumes at 1
and at 2; a world size that no launcher starts is refused in one line."""
import os
import socket
import subprocess
import sys

import pytest
import torch

from kdseq.errors import KdseqError
from tests.conftest import BIN, ROOT, TINY, cli, env_without_torch_override, one_core
from tests.integration.test_headline_kd import two_source_corpus  # noqa: F401  (a fixture)

UPDATES = ("--max-update", "3", "--disable-validation", "--log-interval", "1")
TOLERANCE = 1e-5  # float32 sums in another order: 3.8e-7 seen


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env():
    return one_core(env_without_torch_override())


def torchrun(ranks, *args):
    """fairseq-train in ``ranks`` CPU processes started by torchrun (gloo)."""
    cmd = [os.path.join(BIN, "torchrun"), "--nproc-per-node", str(ranks), "--master-addr", "127.0.0.1",
           "--master-port", str(free_port()), os.path.join(BIN, "fairseq-train"), *map(str, args),
           "--distributed-backend", "gloo"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env(), timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def parameters(save_dir):
    return torch.load(os.path.join(save_dir, "checkpoint_last.pt"), weights_only=False)


def largest_difference(a, b):
    a, b = parameters(a)["model"], parameters(b)["model"]
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def two_ranks_against_update_freq(tmp_path, data, *args):
    """(the largest parameter difference, the two runs' logs) after 3 updates: 2 ranks x 1 batch against 1 process
    x --update-freq 2."""
    common = [data, "--user-dir", "kdseq", *TINY, *UPDATES, *args]
    two = torchrun(2, *common, "--save-dir", tmp_path / "two")
    one = cli("fairseq-train", *common, "--save-dir", tmp_path / "one", "--update-freq", "2", cwd=ROOT, env=env())
    return largest_difference(tmp_path / "one", tmp_path / "two"), two, one


def inner_losses(res):
    return [line.split("loss=")[1].split(",")[0] for line in (res.stdout + res.stderr).splitlines()
            if "train_inner" in line]


@pytest.fixture(scope="module")
def cache(toy_prepared, toy_teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "top8"
    cli("kdseq-cache-teacher", toy_prepared / "bin", "--teacher-path", toy_teacher, "--splits", "train", "--topk", "8",
        "--out-dir", out, "--cpu", env=env())
    return out


@pytest.mark.parametrize("mode", ["label_smoothed_cross_entropy", "word_kd online", "word_kd cache",
                                  "headline_kd two teachers"])
def test_two_ranks_equal_one_process_with_update_freq_2(mode, toy_prepared, toy_teacher, cache, two_source_corpus,
                                                         tmp_path):
    data = toy_prepared / "bin"
    args = {
        "label_smoothed_cross_entropy": ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"],
        "word_kd online": ["--task", "translation_kd", "--criterion", "word_kd", "--teacher-path", toy_teacher,
                           "--kd-alpha", "0.5", "--label-smoothing", "0.1"],
        "word_kd cache": ["--task", "translation_kd", "--criterion", "word_kd", "--teacher-cache", cache,
                          "--kd-alpha", "0.5", "--label-smoothing", "0.1"],
        "headline_kd two teachers": ["--task", "headline_kd", "--teacher-source-data",
                                     f"{two_source_corpus / 'bin-teacher'}:{two_source_corpus / 'bin-teacher2'}",
                                     "--criterion", "word_kd", "--teacher-path", f"{toy_teacher}:{toy_teacher}",
                                     "--kd-teacher-weights", "0.7,0.3", "--kd-alpha", "1"],
    }[mode]
    if mode.startswith("headline_kd"):
        data = two_source_corpus / "bin"
    diff, two, one = two_ranks_against_update_freq(tmp_path, data, *args)
    assert diff < TOLERANCE, (mode, diff)
    assert inner_losses(two) == inner_losses(one) and len(inner_losses(one)) == 3  # the gathered logs, too
    # the student alone is saved and optimised: the teacher is neither in the checkpoint nor in the optimizer
    state = parameters(tmp_path / "two")
    assert not any("teacher" in k for k in state["model"])
    storages = {t.untyped_storage().data_ptr(): t.numel() for k, t in state["model"].items()
                if not k.endswith(".version")}  # fairseq's format markers are buffers
    optimised = sum(s["exp_avg"].numel() for s in state["last_optimizer_state"]["state"].values())
    assert optimised == sum(storages.values())  # every student parameter (shared embeddings once), nothing else


def test_a_run_stopped_at_two_ranks_resumes_at_two_and_at_one(toy_prepared, tmp_path):
    common = [toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--disable-validation", "--criterion",
              "label_smoothed_cross_entropy", "--label-smoothing", "0.1"]
    torchrun(2, *common, "--max-update", "6", "--save-dir", tmp_path / "whole")
    torchrun(2, *common, "--max-update", "3", "--save-dir", tmp_path / "stopped")
    os.system(f"cp -r {tmp_path / 'stopped'} {tmp_path / 'stopped-1'}")
    res = torchrun(2, *common, "--max-update", "6", "--save-dir", tmp_path / "stopped")
    assert "Loaded checkpoint" in res.stdout + res.stderr and "@ 3 updates" in res.stdout + res.stderr
    assert largest_difference(tmp_path / "whole", tmp_path / "stopped") == 0.0
    cli("fairseq-train", *common, "--max-update", "6", "--save-dir", tmp_path / "stopped-1", cwd=ROOT, env=env())
    assert parameters(tmp_path / "stopped-1")["optimizer_history"][-1]["num_updates"] == 6


def test_on_policy_rows_are_drawn_per_rank_and_again_on_a_rerun(toy_teacher, tmp_path):
    """Two ranks given the same batch at the same update (fairseq-train seeds them alike) draw different rows and
    samples; a second run of the same ranks draws the same again."""
    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        code = (f"import sys; sys.path.insert(0, {ROOT!r}); from tests.integration.distributed_ranks import main; "
                f"main({str(toy_teacher)!r}, {str(out)!r}, {free_port()})")
        subprocess.run([sys.executable, "-c", code], check=True, env=env(), timeout=300, cwd=ROOT)
        runs.append([torch.load(out / f"rank{r}.pt") for r in (0, 1)])
    (a0, a1), (b0, b1) = runs
    assert a0["rows"] != a1["rows"] or a0["targets"] != a1["targets"]  # each rank its own draw
    assert (a0, a1) == (b0, b1)  # and the same draw on a rerun


def test_a_world_size_no_launcher_starts_is_refused(toy_prepared, tmp_path):
    res = cli("fairseq-train", toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--max-update", "1",
              "--distributed-world-size", "2", "--save-dir", tmp_path / "s", cwd=ROOT, env=env(), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "--distributed-world-size 2: this machine has 0 GPUs, and no launcher started the ranks" in res.stderr
    assert not (tmp_path / "s").exists() or not os.listdir(tmp_path / "s")


def test_the_patch_leaves_a_gpu_machine_to_fairseq(monkeypatch):
    """Where a GPU is present, fairseq's own inference runs (here: its torchrun path divides the rank by the GPU
    count)."""
    from fairseq.dataclass.configs import DistributedTrainingConfig
    from fairseq.distributed import utils as du

    import kdseq.distributed as kd

    cfg = DistributedTrainingConfig()
    monkeypatch.setattr(kd, "no_gpu", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    du._infer_torch_distributed_launch_init(cfg)
    assert (cfg.distributed_world_size, cfg.distributed_rank, cfg.device_id) == (2, 1, 0)
    monkeypatch.setattr(kd, "no_gpu", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    cfg = DistributedTrainingConfig()
    monkeypatch.setenv("RANK", "5")
    du._infer_torch_distributed_launch_init(cfg)
    assert cfg.device_id == 1  # fairseq's rank % GPUs
    with pytest.raises(KdseqError, match="--distributed-world-size 8: this machine has 4 GPUs"):
        monkeypatch.delenv("RANK")
        du._infer_single_node_init(DistributedTrainingConfig(distributed_world_size=8))
