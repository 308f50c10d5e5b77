"""kdseq-cache-teacher and word_kd --teacher-cache: equivalence with the online teacher, size, refusals."""
import json
import re
import shutil

import numpy as np
import pytest
import torch
from fairseq import checkpoint_utils

import kdseq  # noqa: F401
from kdseq.cache import TeacherCache
from kdseq.criterions.word_kd import WordKDCriterion
from kdseq.criterions.word_kd_config import word_kd_config
from kdseq.errors import KdseqError
from kdseq.tasks.translation_kd import TranslationKDTask
from tests.conftest import ROOT, TINY, cli


@pytest.fixture(scope="module")
def setup(toy_prepared, toy_teacher, tmp_path_factory):
    models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task([str(toy_teacher)])
    task = TranslationKDTask.setup_task(cfg.task)  # its batches name their subset (the cache is per subset)
    v = len(task.target_dictionary)
    cache_dir = tmp_path_factory.mktemp("cache") / "full"
    res = cli("kdseq-cache-teacher", toy_prepared / "bin", "--teacher-path", toy_teacher, "--splits", "train,valid",
              "--topk", v, "--out-dir", cache_dir, "--cpu")
    task.load_dataset("valid")
    torch.manual_seed(5)
    student = task.build_model(cfg.model).eval()
    itr = task.get_batch_iterator(dataset=task.dataset("valid"), max_sentences=16, seed=1)
    return {"task": task, "v": v, "cache": cache_dir, "student": student, "stdout": res.stdout,
            "bin": toy_prepared / "bin",
            "samples": list(itr.next_epoch_itr(shuffle=False))}


def crit(setup, **kw):
    cfg = word_kd_config(**{"label_smoothing": 0.1, "kd_alpha": 1.0, "kd_temperature": 2.0, **kw})
    return WordKDCriterion(cfg, setup["task"])


def test_full_vocabulary_cache_gives_the_online_loss(setup, toy_teacher):
    online = crit(setup, teacher_path=str(toy_teacher))
    cached = crit(setup, teacher_cache=str(setup["cache"]))
    for sample in setup["samples"]:  # batches of 'valid': the criterion reads the 'valid' cache
        assert sample["kd_subset"] == "valid"
        a = online(setup["student"], sample)[2]["kd_loss"].item()
        b = cached(setup["student"], sample)[2]["kd_loss"].item()
        assert b == pytest.approx(a, abs=1e-5 * max(1.0, abs(a)))


def test_storage_is_six_bytes_per_token_per_k(setup):
    meta = json.loads((setup["cache"] / "valid" / "meta.json").read_text())
    ids = np.load(setup["cache"] / "valid" / "ids.npy", mmap_mode="r")
    lp = np.load(setup["cache"] / "valid" / "lp.npy", mmap_mode="r")
    assert ids.dtype == np.uint16 and lp.dtype == np.float32
    assert ids.shape == lp.shape == (meta["tokens"], setup["v"])
    payload = (setup["cache"] / "valid" / "ids.npy").stat().st_size + (setup["cache"] / "valid" / "lp.npy").stat().st_size
    assert payload - 2 * 128 <= 6 * setup["v"] * meta["tokens"]  # two .npy headers of 128 bytes
    # each row is a distribution sorted by probability
    assert np.allclose(np.exp(lp[:5]).sum(-1), 1.0, atol=1e-5) and (np.diff(lp[:5], axis=-1) <= 0).all()


def test_cache_from_other_data_is_refused(setup, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(setup["cache"], bad)
    meta = json.loads((bad / "valid" / "meta.json").read_text())
    meta["fingerprint"] = "0" * 64  # as if built from other data of the same size
    (bad / "valid" / "meta.json").write_text(json.dumps(meta))
    # refused when the criterion is built, before any update
    with pytest.raises(KdseqError, match="valid/meta.json was built from other data or another dictionary"):
        crit(setup, teacher_cache=str(bad))
    with pytest.raises(KdseqError, match="no cache for subset 'test'.*kdseq-cache-teacher --splits test"):
        TeacherCache(str(setup["cache"]), "test")
    # a subset with no cache of its own is refused, never scored against another subset's cache
    with pytest.raises(KdseqError, match="no cache for subset 'test'"):
        crit(setup, teacher_cache=str(setup["cache"]), valid_subset="valid,test")
    with pytest.raises(KdseqError, match="--kd-topk 99999 exceeds|--kd-topk 99999: must lie"):
        crit(setup, teacher_cache=str(setup["cache"]), kd_topk=99999)


def logged(out, key):
    """The values of ``key`` in fairseq-train's training log lines (--log-format simple: key=value)."""
    return [float(m) for m in re.findall(rf"\b{key}=([0-9.]+)", out)]


def test_fairseq_train_from_cache_follows_the_online_teacher(toy_prepared, toy_teacher, tmp_path):
    """fairseq-train from the top-4 cache and from the live teacher cut to its top 4 (--kd-topk 4): the same
    run, update for update (the logged soft and hard losses agree), and the student's checkpoints are written."""
    cli("kdseq-cache-teacher", toy_prepared / "bin", "--teacher-path", toy_teacher, "--topk", "4",
        "--out-dir", tmp_path / "c4", "--cpu")
    common = [toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--max-update", "20", "--log-interval", "5",
              "--task", "translation_kd", "--criterion", "word_kd", "--label-smoothing", "0.1", "--kd-alpha", "0.7"]
    cached = cli("fairseq-train", *common, "--save-dir", tmp_path / "s", "--teacher-cache", tmp_path / "c4",
                 cwd=ROOT)
    online = cli("fairseq-train", *common, "--save-dir", tmp_path / "o", "--teacher-path", toy_teacher,
                 "--kd-topk", "4", cwd=ROOT)
    for key in ("kd_loss", "hard_loss", "kd_agree"):
        a, b = logged(cached.stdout + cached.stderr, key), logged(online.stdout + online.stderr, key)
        assert len(a) >= 3 and a == pytest.approx(b, abs=0.01), (key, a, b)
    assert (tmp_path / "s" / "checkpoint_last.pt").exists()


def test_ensemble_at_temperature_is_the_same_online_and_cached(setup, toy_teacher, tmp_path):
    """An ensemble of two different teachers at T = 2: the cache (k = V) and the online path agree, and both equal
    log_softmax(log(mean of the members' T=1 probabilities) / T), the definition the README states."""
    state = torch.load(toy_teacher, weights_only=False)
    gen = torch.Generator().manual_seed(0)
    for k, v in state["model"].items():
        if v.is_floating_point():
            state["model"][k] = v + 0.05 * torch.randn(v.shape, generator=gen)
    other = tmp_path / "other.pt"
    torch.save(state, other)
    ensemble = f"{toy_teacher}:{other}"
    cache_dir = tmp_path / "ens"
    cli("kdseq-cache-teacher", setup["bin"], "--teacher-path", ensemble, "--splits", "train,valid", "--topk",
        setup["v"], "--out-dir", cache_dir, "--cpu")
    online = crit(setup, teacher_path=ensemble)
    cached = crit(setup, teacher_cache=str(cache_dir))
    sample = setup["samples"][0]
    a = online(setup["student"], sample)[2]["kd_loss"].item()
    assert cached(setup["student"], sample)[2]["kd_loss"].item() == pytest.approx(a, rel=1e-5)
    # by hand: the members' probabilities averaged at T = 1, then tempered, KL * T^2 over non-padding tokens
    members = [torch.log_softmax(x.float(), -1) for x in online.teacher(sample["net_input"])]
    avg = torch.logsumexp(torch.stack(members), 0) - torch.log(torch.tensor(2.0))
    t = torch.log_softmax(avg / 2.0, -1)
    with torch.no_grad():
        s = torch.log_softmax(setup["student"](**sample["net_input"])[0].float() / 2.0, -1)
    mask = sample["target"].ne(setup["task"].target_dictionary.pad())
    expected = ((t.exp() * (t - s)).sum(-1) * mask).sum().item() * 4.0
    assert a == pytest.approx(expected, rel=1e-4)


def test_shards_as_separate_processes_merge_to_the_unsharded_cache(toy_prepared, toy_teacher, tmp_path):
    import subprocess

    from tests.conftest import commands

    common = [str(toy_prepared / "bin"), "--splits", "train,valid", "--topk", "4", "--max-tokens", "300", "--cpu"]
    ref, sharded = tmp_path / "one", tmp_path / "sharded"
    tool = f"{commands()}/kdseq-cache-teacher"
    procs = [subprocess.Popen([tool, *common, "--teacher-path", str(toy_teacher), "--out-dir", str(out), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for out, extra in ((ref, []), (sharded, ["--num-shards", "3", "--shard-id", "0"]),
                                (sharded, ["--num-shards", "3", "--shard-id", "2"]))]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    # a shard missing: refused, naming it
    res = cli("kdseq-cache-teacher", *common, "--out-dir", sharded, "--num-shards", "3", "--merge", check=False)
    assert res.returncode == 2 and "shard(s) 1 of 3 of 'train'" in res.stderr and "Traceback" not in res.stderr
    assert not (sharded / "train").exists()
    cli("kdseq-cache-teacher", *common, "--teacher-path", toy_teacher, "--out-dir", sharded, "--num-shards", "3",
        "--shard-id", "1")
    cli("kdseq-cache-teacher", *common, "--out-dir", sharded, "--num-shards", "3", "--merge")
    for split in ("train", "valid"):
        a, b = TeacherCache(str(ref), split), TeacherCache(str(sharded), split)
        assert np.array_equal(a.ids, b.ids) and np.array_equal(a.lp, b.lp)
        assert np.array_equal(a.offsets, b.offsets) and a.meta["fingerprint"] == b.meta["fingerprint"]
        assert b.meta["merged_shards"] == 3 and not (sharded / f"{split}.shards").exists()
    # a merge needs no teacher; computing needs one
    res = cli("kdseq-cache-teacher", *common, "--out-dir", sharded, check=False)
    assert res.returncode == 2 and "--teacher-path" in res.stderr
