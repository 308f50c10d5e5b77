"""The build side of the teacher cache (layout: :mod:`kdseq.cache`): the teacher's top-k of every target token of a
split, written in a staged folder, optionally in shards merged afterwards (``kdseq-cache-teacher``)."""
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, replace
from typing import Optional, Tuple

import numpy as np
import torch

from kdseq import losses
from kdseq.cache.reader import FORMAT_VERSION, MARKER, array_paths, check_unsharded, fingerprint
from kdseq.checkpoints import translation_task
from kdseq.decoding.generator import batches
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, inside, staged_dir
from kdseq.teacher import Teacher

log = logging.getLogger(__name__)


def check_split_name(split):
    if not split or "/" in split or split.startswith("."):
        raise KdseqError(f"--splits: {split!r} is not a split name (train, valid, test, ...)")


@dataclass(frozen=True)
class CacheJob:
    """What ``kdseq-cache-teacher`` builds: the top ``k`` of each target token, into ``cache_dir``, in batches of
    ``max_tokens`` on ``device``; with ``num_shards`` > 1 only shard ``shard_id`` of the batches."""
    k: int
    cache_dir: str
    max_tokens: int = 4096
    device: str = "cpu"
    num_shards: int = 1
    shard_id: int = 0

    def __post_init__(self):
        if self.k < 1:
            raise KdseqError(f"--topk {self.k}: must be at least 1")
        if self.num_shards < 1 or not 0 <= self.shard_id < self.num_shards:
            raise KdseqError(f"--num-shards {self.num_shards} --shard-id {self.shard_id}: need N >= 1 and 0 <= I < N")


@dataclass(frozen=True)
class CacheRequest:
    """What ``kdseq-cache-teacher`` is asked: compute ``splits`` of the cache of ``data`` with the teacher (a shard
    of it with ``job.num_shards`` > 1), or join the shards (``merge``, no teacher)."""
    data: str
    job: CacheJob
    splits: Tuple[str, ...] = ("train", "valid")
    teacher_path: Optional[str] = None
    teacher_data: Optional[str] = None
    teacher_source_data: Optional[str] = None   # --task headline_kd: the teacher reads this folder's sources
    merge: bool = False

    def __post_init__(self):
        check_unsharded(self.data)
        out = self.job.cache_dir
        if inside(out, self.data) or inside(self.data, out):
            raise KdseqError(f"--out-dir {out} and the data {self.data} overlap: put the cache outside the data folder "
                             "(the input is never written to)")
        if self.merge == bool(self.teacher_path):
            raise KdseqError("give --teacher-path to compute (a shard of) the cache, or --merge without it to join "
                             "shards")
        if self.teacher_source_data and ":" in self.teacher_source_data:
            raise KdseqError(f"--teacher-source-data {self.teacher_source_data}: a cache holds one teacher source's "
                             "distributions: give one folder (teachers reading their own sources are run online, "
                             "fairseq-train --task headline_kd --teacher-path a.pt:b.pt --teacher-source-data A:B)")


@torch.no_grad()
def _teacher_rows(teacher, task, split, job):
    """(step, sentence id, top-k ids (n, k) uint16, log-probs (n, k) float32) for every target sentence of the
    batches ``step % num_shards == shard_id`` of ``split`` (the same batches, in the same order, every run)."""
    sizes = task.dataset(split).tgt_sizes
    device = job.device
    teacher.to(torch.device(device))
    for step, sample in enumerate(batches(task, teacher.models, split, job.max_tokens, None)):
        if step % job.num_shards != job.shard_id or "net_input" not in sample:
            continue
        if device != "cpu":
            from fairseq import utils  # fairseq is loaded already (the task's)

            sample = utils.move_to_cuda(sample, device=torch.device(device))
        net_input = sample.get("teacher_net_input") or sample["net_input"]  # headline_kd: the teacher's source
        top_ids, top_lp = losses.topk_logprobs(losses.ensemble_logprobs(teacher(net_input)), job.k)
        for row, sid in enumerate(sample["id"].tolist()):
            n = int(sizes[sid])
            yield step, sid, top_ids[row, :n].cpu().numpy().astype(np.uint16), top_lp[row, :n].cpu().numpy()


def _open_cache_dir(cache_dir):
    """Refuse a folder that is not a teacher cache; mark a new one as such. Shards started at once may open the
    same new folder: the marker is created in place with O_EXCL (no temporary file another shard could see in the
    folder before the marker), by whichever comes first."""
    check_output_dir(cache_dir, MARKER)
    os.makedirs(cache_dir, exist_ok=True)
    try:
        fd = os.open(os.path.join(cache_dir, MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps({"format": FORMAT_VERSION}) + "\n")


def shard_dir(cache_dir, split, num_shards, shard_id):
    return os.path.join(cache_dir, f"{split}.shards", f"shard-{shard_id}-of-{num_shards}")


@torch.no_grad()
def build_shard(teacher, task, split, job):
    """One of ``num_shards`` parts of ``build``: the teacher runs on every num_shards-th batch (the batches are
    the same, in the same order, in every shard) and ``cache_dir/<split>.shards/shard-i-of-N/`` gets those
    sentences' rows (sids.npy, ids.npy, lp.npy, meta.json); :func:`merge_shards` then writes ``<split>/``."""
    k, cache_dir, num_shards, shard_id = job.k, job.cache_dir, job.num_shards, job.shard_id
    dataset, dictionary = _checked_split(task, split, k)
    _open_cache_dir(cache_dir)
    os.makedirs(os.path.join(cache_dir, f"{split}.shards"), exist_ok=True)
    start = time.perf_counter()
    sids, id_rows, lp_rows = [], [], []
    for _, sid, top_ids, top_lp in _teacher_rows(teacher, task, split, job):
        sids.append(sid)
        id_rows.append(top_ids)
        lp_rows.append(top_lp)
    with staged_dir(shard_dir(cache_dir, split, num_shards, shard_id), flag="--out-dir") as tmp:
        for name, arr in (("sids.npy", np.asarray(sids, dtype=np.int64)),
                          ("ids.npy", np.concatenate(id_rows) if id_rows else np.zeros((0, k), np.uint16)),
                          ("lp.npy", np.concatenate(lp_rows) if lp_rows else np.zeros((0, k), np.float32))):
            with open(os.path.join(tmp, name), "wb") as f:
                np.save(f, arr)
        meta = {"format": FORMAT_VERSION, "split": split, "k": k, "num_shards": num_shards, "shard_id": shard_id,
                "sentences": len(sids), "teacher": teacher.paths, "data": task.cfg.data,
                "dictionary_size": len(dictionary), "fingerprint": fingerprint(dataset, dictionary),
                "seconds": time.perf_counter() - start}
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
    return meta


def merge_shards(task, split, cache_dir, num_shards):
    """Join the ``num_shards`` shards of ``split`` into ``cache_dir/<split>/`` (the layout :func:`build` writes,
    identical to an unsharded build), after checking that they are all there, of this data, and cover every
    sentence once; then remove the shards."""
    dataset, dictionary = _checked_split(task, split, 1)
    fp = fingerprint(dataset, dictionary)
    metas, missing = [], []
    for i in range(num_shards):
        path = os.path.join(shard_dir(cache_dir, split, num_shards, i), "meta.json")
        if not os.path.exists(path):
            missing.append(i)
            continue
        with open(path) as f:
            metas.append(json.load(f))
    if missing:
        raise KdseqError(f"--merge: shard(s) {', '.join(map(str, missing))} of {num_shards} of {split!r} are not in "
                         f"{cache_dir}/{split}.shards: run kdseq-cache-teacher --num-shards {num_shards} --shard-id I "
                         "for each first")
    for m in metas:
        if m["fingerprint"] != fp or m["k"] != metas[0]["k"] or m["teacher"] != metas[0]["teacher"]:
            raise KdseqError(f"--merge: shard {m['shard_id']} of {split!r} was built from other data, another k or "
                             "another teacher than shard 0: rebuild it")
    sizes = np.asarray(dataset.tgt_sizes, dtype=np.int64)

    def rows():
        for i in range(num_shards):
            d = shard_dir(cache_dir, split, num_shards, i)
            try:
                sids, sh_ids, sh_lp = (np.load(os.path.join(d, n)) for n in ("sids.npy", "ids.npy", "lp.npy"))
            except (OSError, ValueError, EOFError) as e:
                raise KdseqError(f"--merge: {d}: damaged or truncated shard ({e}): rebuild shard {i}") from None
            row = 0
            for sid in sids.tolist():
                n = int(sizes[sid])
                yield sid, sh_ids[row:row + n], sh_lp[row:row + n]
                row += n

    def check(seen):
        if not (seen == 1).all():
            raise KdseqError(f"--merge: the shards of {split!r} cover {int((seen == 0).sum())} sentences not at all and "
                             f"{int((seen > 1).sum())} twice: were they built with other --max-tokens? Rebuild them")

    meta = _write_split(task, split, CacheJob(metas[0]["k"], cache_dir), rows(), check, lambda: {
        "teacher": metas[0]["teacher"], "seconds": sum(m["seconds"] for m in metas), "merged_shards": num_shards})
    shutil.rmtree(os.path.join(cache_dir, f"{split}.shards"))  # made by build_shard
    return meta


def _write_split(task, split, job, rows, check, extra):
    """Write ``<job.cache_dir>/<split>/`` in a staged folder: the rows (sentence id, top-k ids, log-probs) into the
    ``job.k``-wide arrays at their sentence's offsets, ``check(seen)`` (how often each sentence came) before anything
    is renamed into place, then the offsets and meta.json (``extra()`` added to it when it is written). The one
    writer of a split's arrays: a built and a merged cache are the same bytes."""
    k, cache_dir = job.k, job.cache_dir
    dataset, dictionary = task.dataset(split), task.target_dictionary
    sizes = np.asarray(dataset.tgt_sizes, dtype=np.int64)  # target lengths with EOS, as binarized
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    with staged_dir(os.path.join(cache_dir, split), flag="--out-dir") as tmp:
        paths = array_paths(tmp)
        ids = np.lib.format.open_memmap(paths["ids.npy"], mode="w+", dtype=np.uint16, shape=(total, k))
        lp = np.lib.format.open_memmap(paths["lp.npy"], mode="w+", dtype=np.float32, shape=(total, k))
        seen = np.zeros(len(dataset), dtype=np.int64)
        for sid, top_ids, top_lp in rows:
            ids[offsets[sid]:offsets[sid + 1]] = top_ids
            lp[offsets[sid]:offsets[sid + 1]] = top_lp
            seen[sid] += 1
        check(seen)
        ids.flush()
        lp.flush()
        del ids, lp
        with open(paths["offsets.npy"], "wb") as f:  # a file object: np.save would append .npy to the name
            np.save(f, offsets)
        meta = {"format": FORMAT_VERSION, "split": split, "k": k, "sentences": len(dataset), "tokens": total,
                "teacher": None, "data": task.cfg.data, "dictionary_size": len(dictionary),
                "fingerprint": fingerprint(dataset, dictionary), "seconds": None, **extra()}
        with open(paths["meta.json"], "w") as f:
            json.dump(meta, f, indent=1)
    return meta


def _checked_split(task, split, k):
    check_split_name(split)
    check_unsharded(task.cfg.data)
    dictionary = task.target_dictionary
    if len(dictionary) > 65536:
        raise KdseqError(f"the target dictionary has {len(dictionary)} entries: the cache stores ids as uint16 "
                         "(at most 65536)")
    if not 1 <= k <= len(dictionary):
        raise KdseqError(f"--topk {k}: must lie in [1, {len(dictionary)}] (the vocabulary size)")
    try:
        task.load_dataset(split)
    except FileNotFoundError as e:
        raise KdseqError(f"--splits {split}: not in {task.cfg.data} ({e})") from None
    dataset = task.dataset(split)
    if dataset.tgt is None:
        raise KdseqError(f"--splits {split}: {task.cfg.data} has no target side for it: the cache scores targets")
    return dataset, dictionary


@torch.no_grad()
def build(teacher, task, split, job, log_every=0):
    """Run ``teacher`` (a kdseq.teacher.Teacher) over ``split`` of ``task`` and write ``<job.cache_dir>/<split>/``
    atomically (a cache folder may gain splits one at a time; an existing split is rebuilt); ``job``: a
    :class:`CacheJob` (its shards are ignored: see :func:`build_shard`)."""
    job = replace(job, num_shards=1, shard_id=0)
    dataset, _ = _checked_split(task, split, job.k)
    _open_cache_dir(job.cache_dir)
    start = time.perf_counter()

    def rows():
        done, last = 0, -1
        for step, sid, top_ids, top_lp in _teacher_rows(teacher, task, split, job):
            yield sid, top_ids, top_lp
            done += 1
            if log_every and step != last and step % log_every == 0:
                log.info(f"{done}/{len(dataset)} sentences")
            last = step

    def check(seen):
        if not seen.all():
            raise KdseqError(f"{int((seen == 0).sum())} sentences of {split!r} were skipped (longer than the teacher's "
                             "max positions?): the cache must cover every sentence")

    return _write_split(task, split, job, rows(), check,
                        lambda: {"teacher": teacher.paths, "seconds": time.perf_counter() - start})


def run(request):
    """What ``kdseq-cache-teacher`` does for a :class:`CacheRequest`: one meta dict per split (without its
    fingerprint)."""
    if request.teacher_source_data:
        task = translation_task(request.data, "headline_kd", extra_args=["--teacher-source-data",
                                                                         request.teacher_source_data])
    else:
        task = translation_task(request.data)
    job = request.job
    if request.merge:
        metas = [merge_shards(task, split, job.cache_dir, job.num_shards) for split in request.splits]
    else:
        teacher = Teacher.for_task(request.teacher_path, task, request.teacher_data)
        write = build_shard if job.num_shards > 1 else build
        metas = [write(teacher, task, split, job) for split in request.splits]
    for meta in metas:
        meta.pop("fingerprint")
    return metas
