"""The piece-level stages of kdseq-prepare: every column encoded by sentencepiece batch by batch (written as it
goes: a corpus of millions of pairs is never held as pieces), the length and lead filters of train, and the
rewrite of train's files to the rows kept."""
import itertools
import os
from array import array

from kdseq.data.splits import digest, overlaps
from kdseq.errors import KdseqError


ENCODE_BATCH = 20_000  # rows encoded at once: the pieces of one batch are all that is held in memory


def raw_batches(tmp, split, columns):
    """The rows of raw/<split>.<column>, ENCODE_BATCH at a time."""
    files = [open(os.path.join(tmp, "raw", f"{split}.{name}"), encoding="utf-8", newline="\n") for name in columns]
    try:
        rows = zip(*((line[:-1] for line in f) for f in files))
        while True:
            part = list(itertools.islice(rows, ENCODE_BATCH))
            if not part:
                return
            yield part
    finally:
        for f in files:
            f.close()


def encode(cfg, sp, split, tmp, counts):
    """Stage 3: every column of raw/<split> as pieces, written to spm/<split>.<column> batch by batch; with
    --truncate-source every source (the student's, the teacher's: all columns but the target) cut to its lead.
    Returns (the longest column of each row in pieces, each row's source lead as a digest, or None)."""
    n = cfg.filters.truncate_source
    longest, leads, cut = array("i"), [] if n else None, 0
    files = [open(os.path.join(tmp, "spm", f"{split}.{name}"), "w", encoding="utf-8") for name in cfg.columns]
    try:
        for part in raw_batches(tmp, split, cfg.columns):
            cols = [sp.encode([row[c] for row in part], out_type=str) for c in range(len(files))]
            if n:
                cut += sum(1 for i in range(len(part)) if any(len(cols[c][i]) > n for c in range(len(cols)) if c != 1))
                cols = [col if c == 1 else [x[:n] for x in col] for c, col in enumerate(cols)]
            lines = [[" ".join(x) for x in col] for col in cols]
            for f, col in zip(files, lines):
                f.write("".join(x + "\n" for x in col))
            longest.extend(max(len(col[i]) for col in cols) for i in range(len(part)))
            if n:
                leads.extend(digest(x) for x in lines[0])
    finally:
        for f in files:
            f.close()
    if n:
        counts[f"{split}_source_truncated"] = cut
    return longest, leads


def filter_train(cfg, tmp, encoded, counts):
    """Stage 4: training pairs longer than --max-len dropped; with --truncate-source, a training text whose lead
    is a held-out text's lead is the same input: refused, or dropped with --drop-overlap. ``encoded``: {split:
    (lengths, leads)} of :func:`encode`. Returns the kept indices of train."""
    f = cfg.filters
    lengths, train_leads = encoded["train"]
    keep = [i for i, n in enumerate(lengths) if n <= f.max_len]
    counts["train_dropped_too_long"] = len(lengths) - len(keep)
    if not f.truncate_source:
        return keep
    leads = {s: e[1] for s, e in encoded.items() if s != "train"}
    leads["train"] = [train_leads[i] for i in keep]
    same, source = set(), os.path.join(tmp, "raw", f"train.{cfg.src_lang}")
    for held, against, shared in overlaps(leads, cfg.extra):
        if against != "train":
            continue
        if not f.drop_overlap:
            raise KdseqError(
                f"{len(shared)} training sources have the same first {f.truncate_source} pieces (--truncate-source) "
                f"as a valid or test source ({held}; first: {line_at(source, keep[shared[0]])[:80]!r}): the "
                "model would read the same text in training and test. Pass --drop-overlap to remove them from train")
        same.update(shared)
    counts["train_dropped_same_lead_as_held_out"] = len(same)
    return [i for j, i in enumerate(keep) if j not in same]


def line_at(path, number):
    """Line ``number`` (0-based) of a text file, without its newline."""
    with open(path, encoding="utf-8", newline="\n") as f:
        return next(itertools.islice(f, number, None)).rstrip("\n")


def keep_lines(path, keep, dest=None):
    """Rewrite the text file ``path`` with only the lines whose (0-based) numbers are in ``keep`` (sorted), or write
    them to ``dest`` and leave ``path`` as it is."""
    tmp = dest or path + ".keep"
    wanted = iter(keep)
    nxt = next(wanted, None)
    with open(path, encoding="utf-8", newline="\n") as src, open(tmp, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i == nxt:
                dst.write(line)
                nxt = next(wanted, None)
    if not dest:
        os.replace(tmp, path)
