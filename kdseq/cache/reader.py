"""The read side of the teacher cache (layout: :mod:`kdseq.cache`): its format, the data fingerprint that ties it
to one dataset and dictionary, and the memory-mapped lookup the word_kd criterion reads a batch's targets from."""
import json
import os

import numpy as np
import torch

from kdseq.data.binarized import fingerprint_seqs
from kdseq.errors import KdseqError

FORMAT_VERSION = 2
MARKER = "kdseq-cache.json"


def fingerprint(dataset, dictionary, target=True):
    """sha256 of ``dictionary``'s symbols and every source (and, with ``target``, target) token id of a
    LanguagePairDataset. The cache fingerprints the target dictionary and both sides; kdseq-regenerate the
    source dictionary and the sources (a split it translates may have no target side). A dataset carrying the
    teacher's own source (``--task headline_kd``) has it fingerprinted too."""
    sides = [(b"", dataset.src)]
    if getattr(dataset, "teacher_src", None) is not None:
        sides.append((b"<", dataset.teacher_src))
    if target:
        sides.append((b"|", dataset.tgt))
    return fingerprint_seqs(dictionary.symbols, len(dataset), *sides)


def array_paths(split_dir):
    return {k: os.path.join(split_dir, k) for k in ("ids.npy", "lp.npy", "offsets.npy", "meta.json")}


def check_unsharded(data):
    if ":" in str(data):
        raise KdseqError(f"{data}: sharded data (DATA=a:b) is not supported by the teacher cache (sample ids change "
                         "with each shard); cache one data folder, or use the online teacher (--teacher-path)")


class TeacherCache:
    """Read side: top-k ids and log-probabilities of a batch's target tokens, memory-mapped."""

    def __init__(self, cache_dir, split):
        paths = array_paths(os.path.join(cache_dir, split))
        if not os.path.exists(paths["meta.json"]):
            old = os.path.exists(os.path.join(cache_dir, f"{split}.json"))
            raise KdseqError(f"--teacher-cache {cache_dir}: no cache for subset {split!r} ({paths['meta.json']} "
                             "missing): " + ("it was built by an older kdseq; rebuild it" if old else
                                             f"build it with kdseq-cache-teacher --splits {split}"))
        try:
            with open(paths["meta.json"]) as f:
                self.meta = json.load(f)
            k, n, tokens = self.meta["k"], self.meta["sentences"], self.meta["tokens"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise KdseqError(f"{paths['meta.json']}: damaged cache metadata ({e}): rebuild it with "
                             "kdseq-cache-teacher") from None
        if self.meta.get("format") != FORMAT_VERSION:
            raise KdseqError(f"{paths['meta.json']}: cache format {self.meta.get('format')}, expected "
                             f"{FORMAT_VERSION}: rebuild it with kdseq-cache-teacher")
        self.path, self.split, self.k = paths["meta.json"], split, k
        arrays = {}
        for name, shape in (("ids.npy", (tokens, k)), ("lp.npy", (tokens, k)), ("offsets.npy", (n + 1,))):
            try:
                arrays[name] = np.load(paths[name], mmap_mode="r")
            except (OSError, ValueError, EOFError) as e:
                raise KdseqError(f"{paths[name]}: damaged or truncated cache file ({e}): rebuild the cache with "
                                 "kdseq-cache-teacher") from None
            if arrays[name].shape != shape:
                raise KdseqError(f"{paths[name]}: holds an array of shape {arrays[name].shape}, {paths['meta.json']} "
                                 f"says {shape}: the cache is damaged; rebuild it with kdseq-cache-teacher")
        self.ids, self.lp = arrays["ids.npy"], arrays["lp.npy"]
        self.offsets = np.asarray(arrays["offsets.npy"])
        if self.offsets[-1] != tokens:
            raise KdseqError(f"{paths['offsets.npy']}: does not match {paths['meta.json']}: rebuild the cache")
        self.checked = False

    def check(self, dataset, dictionary):
        """Refuse a cache built from another dataset or dictionary."""
        if len(dataset) != self.meta["sentences"] or len(dictionary) != self.meta["dictionary_size"] \
                or fingerprint(dataset, dictionary) != self.meta["fingerprint"]:
            raise KdseqError(f"--teacher-cache: {self.path} was built from other data or another dictionary "
                             f"({self.meta['sentences']} sentences of {self.meta['data']}, subset {self.split}; "
                             f"this subset has {len(dataset)}): rebuild it with kdseq-cache-teacher on this data")
        self.checked = True

    def lookup(self, sample_ids, lengths, device):
        """(ids (N, k) long, log-probabilities (N, k) float32) for the first lengths[i] tokens of each sample,
        concatenated in batch order (the order of the non-padding positions of a right-padded target)."""
        rows = np.concatenate([np.arange(self.offsets[s], self.offsets[s] + n)
                               for s, n in zip(sample_ids, lengths)])
        ids = torch.from_numpy(self.ids[rows].astype(np.int64)).to(device)
        lp = torch.from_numpy(np.ascontiguousarray(self.lp[rows])).to(device)
        return ids, lp
