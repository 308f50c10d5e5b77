"""The pair-level stages of kdseq-prepare: dropping empty and repeated pairs, a random held-out split, and the
rule that no held-out source is read in training.

A source is compared by the text sentencepiece reads (:func:`input_key`: NFKC, whitespace runs as one space), so
two lines that differ only in spacing are the same input; with --truncate-source, by its lead."""
import random
import re
import unicodedata

from kdseq.errors import KdseqError

_SPACE = re.compile(r"\s+")


def input_key(text):
    """What a model reads of ``text``: sentencepiece's default normalisation (nmt_nfkc) folds compatibility forms
    and runs of whitespace, and drops leading and trailing space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def drop_empty(pairs, counts, split):
    kept = [row for row in pairs if all(row)]
    counts[f"{split}_dropped_empty"] = len(pairs) - len(kept)
    return kept


def dedup(pairs, counts):
    kept = list(dict.fromkeys(pairs))
    counts["train_dropped_duplicate"] = len(pairs) - len(kept)
    return kept


def random_split(pairs, sizes, seed, counts):
    """Split valid and test (``sizes``: their sizes) off ``pairs`` at random, held-out sources unique and absent
    from train: pairs that read the same source stay together (a corpus with repeated sentences never gets an
    overlapping split). Returns (train, valid, test)."""
    valid_size, test_size = sizes
    by_src = {}
    for p in pairs:
        by_src.setdefault(input_key(p[0]), []).append(p)
    sources = list(by_src)
    if len(sources) < valid_size + test_size + 1:
        raise KdseqError(f"--train: {len(sources)} distinct source sentences cannot give --valid-size {valid_size} "
                         f"and --test-size {test_size} and leave some for training")
    order = list(range(len(sources)))
    random.Random(seed).shuffle(order)
    held = sorted(order[: valid_size + test_size])
    random.Random(seed + 1).shuffle(held)
    valid_src = {sources[i] for i in held[:valid_size]}
    test_src = {sources[i] for i in held[valid_size:]}
    # one pair per held-out source (its first), in corpus order
    valid = [by_src[s][0] for s in sources if s in valid_src]
    test = [by_src[s][0] for s in sources if s in test_src]
    train = [p for p in pairs if input_key(p[0]) not in valid_src and input_key(p[0]) not in test_src]
    counts["heldout_dropped_repeated_source"] = sum(len(by_src[s]) - 1 for s in valid_src | test_src)
    return train, valid, test


def held_out_pairs(extra=()):
    """(held-out split, the split it must not meet): train against valid, test and every extra test set, and
    valid against test."""
    return (("valid", "train"), ("test", "train"), ("test", "valid"), *((x, "train") for x in extra))


def overlaps(keys, extra=()):
    """Where a held-out split shares a source key with a split it must not meet (:func:`held_out_pairs`).
    ``keys``: {split: [key of each row]}. Yields (held, against, the indices of ``against``'s rows whose key also
    occurs in ``held``) for each non-empty overlap."""
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
    the model reads it (:func:`input_key`)."""
    keys = {k: [input_key(r[0]) for r in v] for k, v in splits.items()}  # each row's key, computed once
    for held, against in held_out_pairs(extra):  # in order: a drop from valid changes what test is compared with
        seen = set(keys[held])
        shared = [i for i, k in enumerate(keys[against]) if k in seen]
        if not shared:
            continue
        if not drop:  # named by the held-out sentences that the other split also has
            twins = set(keys[against])
            held_rows = [r for r, k in zip(splits[held], keys[held]) if k in twins]
            raise overlap_error(len(held_rows), held, against, held_rows[0][0])
        gone = set(shared)
        splits[against] = [r for i, r in enumerate(splits[against]) if i not in gone]
        keys[against] = [k for i, k in enumerate(keys[against]) if i not in gone]
        counts[f"{against}_dropped_overlap_with_{held}"] = len(shared)
