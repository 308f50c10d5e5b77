"""Offline teacher cache: the teacher's top-k tokens and log-probabilities for every target token of a split.

Built once by ``kdseq-cache-teacher``; ``--criterion word_kd --teacher-cache DIR`` then reads it instead of
running the teacher. Layout of DIR, per split (memory-mapped numpy arrays, 6*k bytes per target token)::

    <split>.ids.npy      uint16 (total_tokens, k)   token ids, most probable first
    <split>.lp.npy       float32 (total_tokens, k)  log-probabilities (T = 1, renormalised over the k)
    <split>.offsets.npy  int64 (n + 1,)             rows of sentence i: offsets[i]:offsets[i+1]
    <split>.json         k, counts, teacher, and a fingerprint of the data and dictionary it was built from

The fingerprint (sha256 over the dictionary's symbols and every source and target token id) makes a cache
built from another dataset or dictionary fail loudly instead of training on misaligned targets.
"""
import hashlib
import json
import os
import time

import numpy as np
import torch

from kdseq import losses
from kdseq.errors import KdseqError

FORMAT_VERSION = 1


def fingerprint(dataset, dictionary, target=True):
    """sha256 of ``dictionary``'s symbols and every source (and, with ``target``, target) token id of a
    LanguagePairDataset. The cache fingerprints the target dictionary and both sides; kdseq-regenerate the
    source dictionary and the sources (a split it translates may have no target side)."""
    h = hashlib.sha256()
    h.update("\n".join(dictionary.symbols).encode("utf-8"))
    for i in range(len(dataset)):
        h.update(dataset.src[i].numpy().astype(np.int32).tobytes())
        if target:
            h.update(b"|")
            h.update(dataset.tgt[i].numpy().astype(np.int32).tobytes())
        h.update(b"\n")
    return h.hexdigest()


def _paths(cache_dir, split):
    return {k: os.path.join(cache_dir, f"{split}.{k}") for k in ("ids.npy", "lp.npy", "offsets.npy", "json")}


@torch.no_grad()
def build(teacher, task, split, k, cache_dir, max_tokens=4096, device="cpu", log_every=0):
    """Run ``teacher`` (a kdseq.teacher.Teacher) over ``split`` of ``task`` and write the cache atomically."""
    from kdseq.decode import batches

    dictionary = task.target_dictionary
    if len(dictionary) > 65536:
        raise KdseqError(f"the target dictionary has {len(dictionary)} entries: the cache stores ids as uint16 "
                         "(at most 65536)")
    if not 1 <= k <= len(dictionary):
        raise KdseqError(f"--topk {k}: must lie in [1, {len(dictionary)}] (the vocabulary size)")
    task.load_dataset(split)
    dataset = task.dataset(split)
    sizes = np.asarray(dataset.tgt_sizes, dtype=np.int64)  # target lengths with EOS, as binarized
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    os.makedirs(cache_dir, exist_ok=True)
    paths = _paths(cache_dir, split)
    tmp = {name: p + ".tmp" for name, p in paths.items()}
    ids = np.lib.format.open_memmap(tmp["ids.npy"], mode="w+", dtype=np.uint16, shape=(total, k))
    lp = np.lib.format.open_memmap(tmp["lp.npy"], mode="w+", dtype=np.float32, shape=(total, k))
    done = np.zeros(len(dataset), dtype=bool)
    teacher.to(torch.device(device))
    start = time.perf_counter()
    try:
        for step, sample in enumerate(batches(task, teacher.models, split, max_tokens, None)):
            if "net_input" not in sample:
                continue
            if device != "cpu":
                from fairseq import utils

                sample = utils.move_to_cuda(sample, device=torch.device(device))
            logprobs = losses.ensemble_logprobs(teacher(sample["net_input"]))
            top_ids, top_lp = losses.topk_logprobs(logprobs, k)
            target = sample["target"]
            for row, sid in enumerate(sample["id"].tolist()):
                n = int(sizes[sid])
                assert int(target[row].ne(dictionary.pad()).sum()) == n
                ids[offsets[sid]:offsets[sid + 1]] = top_ids[row, :n].cpu().numpy().astype(np.uint16)
                lp[offsets[sid]:offsets[sid + 1]] = top_lp[row, :n].cpu().numpy()
                done[sid] = True
            if log_every and step % log_every == 0:
                print(f"kdseq-cache-teacher: {int(done.sum())}/{len(dataset)} sentences", flush=True)
        if not done.all():
            raise KdseqError(f"{int((~done).sum())} sentences of {split!r} were skipped (longer than the teacher's "
                             "max positions?): the cache must cover every sentence")
        ids.flush()
        lp.flush()
        del ids, lp
        with open(tmp["offsets.npy"], "wb") as f:  # a file object: np.save would append .npy to the name
            np.save(f, offsets)
        meta = {"format": FORMAT_VERSION, "split": split, "k": k, "sentences": len(dataset), "tokens": total,
                "teacher": teacher.paths, "data": task.cfg.data, "dictionary_size": len(dictionary),
                "fingerprint": fingerprint(dataset, dictionary), "seconds": time.perf_counter() - start}
        with open(tmp["json"], "w") as f:
            json.dump(meta, f, indent=1)
        for name in ("ids.npy", "lp.npy", "offsets.npy", "json"):  # the json last: it marks a complete cache
            os.replace(tmp[name], paths[name])
    except BaseException:
        for p in tmp.values():
            if os.path.exists(p):
                os.remove(p)
        raise
    return meta


class TeacherCache:
    """Read side: top-k ids and log-probabilities of a batch's target tokens, memory-mapped."""

    def __init__(self, cache_dir, split):
        paths = _paths(cache_dir, split)
        if not os.path.exists(paths["json"]):
            raise KdseqError(f"--teacher-cache {cache_dir}: no cache for split {split!r} ({paths['json']} missing): "
                             f"build it with kdseq-cache-teacher --split {split}")
        with open(paths["json"]) as f:
            self.meta = json.load(f)
        if self.meta.get("format") != FORMAT_VERSION:
            raise KdseqError(f"{paths['json']}: cache format {self.meta.get('format')}, expected {FORMAT_VERSION}: "
                             "rebuild it with kdseq-cache-teacher")
        self.path, self.split, self.k = paths["json"], split, self.meta["k"]
        self.ids = np.load(paths["ids.npy"], mmap_mode="r")
        self.lp = np.load(paths["lp.npy"], mmap_mode="r")
        self.offsets = np.load(paths["offsets.npy"])
        self.checked = False

    def check(self, dataset, dictionary):
        """Refuse a cache built from another dataset or dictionary."""
        if len(dataset) != self.meta["sentences"] or len(dictionary) != self.meta["dictionary_size"] \
                or fingerprint(dataset, dictionary) != self.meta["fingerprint"]:
            raise KdseqError(f"--teacher-cache: {self.path} was built from other data or another dictionary "
                             f"({self.meta['sentences']} sentences of {self.meta['data']}, split {self.split}); "
                             "rebuild it with kdseq-cache-teacher on this data")
        self.checked = True

    def lookup(self, sample_ids, lengths, device):
        """(ids (N, k) long, log-probabilities (N, k) float32) for the first lengths[i] tokens of each sample,
        concatenated in batch order (the order of the non-padding positions of a right-padded target)."""
        rows = np.concatenate([np.arange(self.offsets[s], self.offsets[s] + n)
                               for s, n in zip(sample_ids, lengths)])
        ids = torch.from_numpy(self.ids[rows].astype(np.int64)).to(device)
        lp = torch.from_numpy(np.ascontiguousarray(self.lp[rows])).to(device)
        return ids, lp
