"""The pair-level stages of kdseq-prepare: dropping empty and repeated pairs, a random held-out split, and the
rule that no held-out source is read in training.

A source is compared by the text sentencepiece reads (:func:`input_key`: NFKC, whitespace runs as one space), so
two lines that differ only in spacing are the same input; with --truncate-source, by its lead.

The training corpus is streamed, never held: a first pass keeps 16-byte digests of each row and of its source
key (:class:`TrainRows`), the split and the overlap rules work on those, and a last pass writes the rows kept.
Memory grows by about 40 bytes per training pair (5M pairs: 200 MB), whatever the length of the sentences."""
import hashlib
import logging
import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kdseq.errors import KdseqError

_SPACE = re.compile(r"\s+")

log = logging.getLogger(__name__)


def input_key(text):
    """What a model reads of ``text``: sentencepiece's default normalisation (nmt_nfkc) folds compatibility forms
    and runs of whitespace, and drops leading and trailing space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def digest(text):
    """16 bytes standing for ``text`` (blake2b): what the streamed stages keep of a row or a key."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def source_key(row):
    return digest(input_key(row[0]))


def _pairs(digests):
    """A bytearray of 16-byte digests as an (n, 2) uint64 array (np.unique compares its rows)."""
    return np.frombuffer(bytes(digests), dtype=np.uint64).reshape(-1, 2)


def has_fields(row):
    """A row kdseq-prepare keeps: its source, target and first teacher source non-empty (a second teacher's source
    may be empty: that teacher has nothing to read for the row, and the first teacher alone teaches it)."""
    return all(row[:3])


def drop_empty(pairs, counts, split):
    kept = [row for row in pairs if has_fields(row)]
    counts[f"{split}_dropped_empty"] = len(pairs) - len(kept)
    return kept


@dataclass
class TrainRows:
    """The training split as a selection of its corpus's rows: ``read()`` streams the corpus again, ``index`` holds
    the row numbers kept (ascending), ``keys`` each kept row's source key (:func:`source_key`) as (n, 2) uint64."""
    read: Callable
    index: np.ndarray
    keys: np.ndarray

    def __len__(self):
        return len(self.index)

    def key_bytes(self):
        return [k.tobytes() for k in self.keys]

    def select(self, positions):
        """Keep the rows at ``positions`` (ascending positions into the current selection)."""
        self.index, self.keys = self.index[positions], self.keys[positions]

    def rows(self):
        """The kept rows, in corpus order (the corpus streamed once more)."""
        wanted = iter(self.index.tolist())
        nxt = next(wanted, None)
        if nxt is None:
            return
        for i, row in enumerate(self.read()):
            if i == nxt:
                yield row
                nxt = next(wanted, None)
                if nxt is None:
                    return


def scan_train(read, counts):
    """Stage 1 for train: one pass over ``read()``'s rows; empty pairs dropped, then repeated pairs (the first kept).
    Returns the :class:`TrainRows` left."""
    index, rows, keys, n = [], bytearray(), bytearray(), 0
    for n, row in enumerate(read(), 1):
        if has_fields(row):
            index.append(n - 1)
            rows += digest("\0".join(row))  # NUL never occurs in a cleaned field
            keys += source_key(row)
    counts["train_read"] = n
    counts["train_dropped_empty"] = n - len(index)
    first = np.sort(np.unique(_pairs(rows), axis=0, return_index=True)[1]) if index else np.zeros(0, np.int64)
    counts["train_dropped_duplicate"] = len(index) - len(first)
    return TrainRows(read, np.asarray(index, dtype=np.int64)[first], _pairs(keys)[first])


def random_split(train, sizes, seed, counts):
    """Split valid and test (``sizes``: their sizes) off ``train`` (:class:`TrainRows`) at random, held-out sources
    unique and absent from train: pairs that read the same source stay together (a corpus with repeated sentences
    never gets an overlapping split). Returns (the corpus row numbers of valid, of test), one row per held-out
    source (its first), in corpus order; ``train`` keeps the rest."""
    if not len(train):
        uniq = np.zeros((0, 2), np.uint64)
    else:
        uniq, first, inverse = np.unique(train.keys, axis=0, return_index=True, return_inverse=True)
    n_sources = len(uniq)
    valid_size, test_size = held_out_sizes(sizes, n_sources)
    if n_sources < valid_size + test_size + 1:
        given = [f"{s} ({n})" if s == "auto" else str(n) for s, n in zip(sizes, (valid_size, test_size))]
        raise KdseqError(f"--train: {n_sources} distinct source sentences cannot give --valid-size {given[0]} "
                         f"and --test-size {given[1]} and leave some for training")
    # sources numbered in the order they first occur: the order the random draw is made in
    rank = np.empty(n_sources, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n_sources)
    order = list(range(n_sources))
    random.Random(seed).shuffle(order)
    held = sorted(order[: valid_size + test_size])
    random.Random(seed + 1).shuffle(held)
    by_rank = np.argsort(rank)  # the unique source of each rank
    row_rank = rank[inverse.reshape(-1)]
    out = []
    for ranks in (held[:valid_size], held[valid_size:]):
        out.append(np.sort(train.index[first[by_rank[np.asarray(ranks, np.int64)]]]))
    is_held = np.isin(row_rank, np.asarray(held, np.int64))
    counts["heldout_dropped_repeated_source"] = int(is_held.sum()) - len(held)
    train.select(np.flatnonzero(~is_held))
    kept = int((~is_held).sum())
    if kept < 0.8 * len(is_held):
        log.warning(f"training keeps {kept} of the {len(is_held)} pairs ({100 * kept / len(is_held):.0f}%): "
                    f"{valid_size} valid and {test_size} test pairs are held out; give smaller --valid-size and "
                    "--test-size (auto: 5% each) or a larger corpus")
    return tuple(out)


def held_out_sizes(sizes, n_sources):
    """(valid, test) sizes: a number as given; auto, 5% of the distinct sources, at least 100 and at most 1000."""
    return tuple(min(1000, max(100, round(0.05 * n_sources))) if s == "auto" else s for s in sizes)


def rows_at(read, numbers):
    """{row number: row} of the rows of ``read()`` whose numbers are in ``numbers``."""
    wanted = set(numbers.tolist())
    return {i: row for i, row in enumerate(read()) if i in wanted}


def held_out_pairs(extra=()):
    """(held-out split, the split it must not meet): train against valid, test and every extra test set, and
    valid against test."""
    return (("valid", "train"), ("test", "train"), ("test", "valid"), *((x, "train") for x in extra))


def overlaps(keys, extra=()):
    """Where a held-out split shares a source key with a split it must not meet (:func:`held_out_pairs`).
    ``keys``: {split: [key of each row]}. Yields (held, against, the indices of ``against``'s rows whose key also
    occurs in ``held``) for each non-empty overlap; ``keys`` is read as each pair's turn comes, so a caller may
    drop rows from it between two overlaps."""
    for held, against in held_out_pairs(extra):
        seen = set(keys[held])
        shared = [i for i, k in enumerate(keys[against]) if k in seen]
        if shared:
            yield held, against, shared


def overlap_error(n, held, against, example):
    return KdseqError(f"{n} {held} source sentences also occur in {against} (first: {example[:80]!r}): scores on "
                      f"{held} would be inflated. Give disjoint splits, or pass --drop-overlap to remove them from "
                      f"{against}")


def check_overlap(splits, drop, counts, extra=()):
    """Refuse (or with ``drop`` remove from train, or valid) the rows whose source a held-out split also has, as
    the model reads it (:func:`input_key`). ``splits``: train a :class:`TrainRows`, the others lists of rows."""
    keys = {k: v.key_bytes() if isinstance(v, TrainRows) else [source_key(r) for r in v] for k, v in splits.items()}
    # in order: a drop from valid changes what test is compared with (overlaps reads keys as it goes)
    for held, against, shared in overlaps(keys, extra):
        if not drop:  # named by the held-out sentences that the other split also has
            twins = set(keys[against])
            held_rows = [r for r, k in zip(splits[held], keys[held]) if k in twins]
            raise overlap_error(len(held_rows), held, against, held_rows[0][0])
        gone = set(shared)
        if isinstance(splits[against], TrainRows):
            splits[against].select(np.asarray([i for i in range(len(keys[against])) if i not in gone], np.int64))
        else:
            splits[against] = [r for i, r in enumerate(splits[against]) if i not in gone]
        keys[against] = [k for i, k in enumerate(keys[against]) if i not in gone]
        counts[f"{against}_dropped_overlap_with_{held}"] = len(shared)
