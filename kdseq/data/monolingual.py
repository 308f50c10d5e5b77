"""Source-side monolingual text made ready for the teacher (``kdseq-prepare-mono``): forward translation.

Production pipelines distil on more than the parallel corpus: the teacher translates source-language text that has
no translation, and the student learns from both. This turns a plain text file (one sentence a line) into a
binarized *source-only* split, encoded with a kdseq-prepare output's own sentencepiece model and dictionary, so that
``kdseq-regenerate`` decodes it like any split (in order, resumable, sharded, either backend, the same filters) and
``kdseq-combine`` joins its distilled pairs with the regenerated parallel corpus.

The rules are kdseq-prepare's: a line is cleaned as a corpus line is (:func:`kdseq.data.corpus.clean_text`) and
compared by what the model reads (:func:`kdseq.data.splits.input_key`). A line is dropped when it is empty, repeats
an earlier line, is a source of a held-out split of the preparation (valid, test, test1...: scores would be
inflated), is a source of its training split (it is distilled already; ``keep_train_sources`` keeps it), or is
longer than the preparation's ``--max-len`` pieces. With the preparation's ``--truncate-source N`` every line is cut
to its first N pieces, and a lead equal to a held-out lead is dropped too.

Layout of ``--out-dir OUT`` (built in a temporary folder, renamed into place when complete)::

    raw/train.<src>       the lines kept, cleaned, in the order of the text
    spm/train.<src>       the same as sentencepiece pieces
    bin/                  train.<src>-<tgt>.<src>.{bin,idx} (no target side), the preparation's dictionaries and
                          its held-out splits (valid, test...), copied: a folder kdseq-regenerate reads as DATA
    prepare-mono.json     counts (read, kept, dropped and why), settings, and the inputs (path, size, sha256)

A rerun with the same inputs and settings is a no-op; other inputs or settings are refused (``--force`` rebuilds).
"""
import json
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Optional

from kdseq.data.binarized import infer_language_pair
from kdseq.data.corpus import _iter_lines, clean_text
from kdseq.data.pieces import ENCODE_BATCH
from kdseq.data.splits import digest, input_key
from kdseq.data.vocab import binarize_file
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, inside, staged_dir
from kdseq.manifest import check_rerun, describe_file, read_record

log = logging.getLogger(__name__)
RECORD = "prepare-mono.json"


@dataclass(frozen=True)
class MonoConfig:
    text: str                               # plain text, one source sentence a line (UTF-8)
    like: str                               # the kdseq-prepare output whose vocabulary and held-out splits apply
    out_dir: str
    max_lines: Optional[int] = None         # keep at most this many lines (the first ones kept), None: all
    keep_train_sources: bool = False        # keep lines that are sources of the preparation's training split
    force: bool = False

    def __post_init__(self):
        if self.max_lines is not None and self.max_lines < 1:
            raise KdseqError(f"--max-lines {self.max_lines}: must be at least 1")


class Preparation:
    """What a kdseq-prepare output gives a monolingual text: languages, vocabulary, limits, held-out sources."""

    def __init__(self, folder):
        self.folder = folder
        record = read_record(os.path.join(folder, "prepare.json"))
        if record is None:
            raise KdseqError(f"--like {folder}: not a kdseq-prepare output (no prepare.json): give the folder "
                             "kdseq-prepare made (the one holding bin/, raw/ and spm.model)")
        self.bin = os.path.join(folder, "bin")
        self.src, self.tgt = infer_language_pair(self.bin) if os.path.isdir(self.bin) else (None, None)
        self.spm_model = os.path.join(folder, "spm.model")
        for path in (self.spm_model, os.path.join(self.bin, f"dict.{self.src}.txt")):
            if self.src is None or not os.path.isfile(path):
                raise KdseqError(f"--like {folder}: {os.path.relpath(path, folder)} is missing: the preparation is "
                                 "incomplete; run kdseq-prepare again")
        settings = record.get("settings", {})
        self.max_len = settings.get("max_len", 250)
        self.truncate = settings.get("truncate_source")
        raw = os.path.join(folder, "raw")
        self.held_out = sorted(n.rsplit(".", 1)[0] for n in os.listdir(raw)
                               if n.endswith(f".{self.src}") and not n.startswith("train.") and n.count(".") == 1)

    def dict_file(self, lang):
        return os.path.join(self.bin, f"dict.{lang}.txt")

    def raw(self, split):
        return os.path.join(self.folder, "raw", f"{split}.{self.src}")

    def keys(self, split, leads=False):
        """The source keys of a split (what the model reads; with ``leads`` the first pieces, as prepared)."""
        folder = "spm" if leads else "raw"
        path = os.path.join(self.folder, folder, f"{split}.{self.src}")
        with open(path, encoding="utf-8") as f:
            return {digest(line.rstrip("\n") if leads else input_key(line.rstrip("\n"))) for line in f}


def describe_inputs(cfg, prep):
    inputs = {"text": describe_file(cfg.text, f"TEXT {cfg.text}"),
              "spm.model": describe_file(prep.spm_model, f"--like {prep.folder}: spm.model"),
              "dictionary": describe_file(prep.dict_file(prep.src), f"--like {prep.folder}: the dictionary")}
    for split in ("train", *prep.held_out):
        inputs[f"raw/{split}.{prep.src}"] = describe_file(prep.raw(split), f"--like {prep.folder}: raw/{split}")
    return inputs


def read_lines(cfg, prep, counts):
    """The lines kept before encoding: cleaned, non-empty, new, and no source of the preparation's splits."""
    held = set().union(*(prep.keys(s) for s in prep.held_out)) if prep.held_out else set()
    train = set() if cfg.keep_train_sources else prep.keys("train")
    seen, kept = set(), []
    for _, line in _iter_lines(cfg.text):
        counts["read"] += 1
        text = clean_text(line)
        key = input_key(text)
        if not key:
            counts["dropped_empty"] += 1
            continue
        d = digest(key)
        if d in held:
            counts["dropped_held_out"] += 1
        elif d in seen:
            counts["dropped_duplicate"] += 1
        elif d in train:
            counts["dropped_train_source"] += 1
        else:
            seen.add(d)
            kept.append(text)
    return kept


def encode(cfg, prep, lines, counts):
    """(kept lines, their pieces): longer than --max-len dropped, cut to --truncate-source N (leads equal to a
    held-out lead dropped), at most --max-lines."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=prep.spm_model)
    held_leads = set()
    if prep.truncate:
        held_leads = set().union(*(prep.keys(s, leads=True) for s in prep.held_out)) if prep.held_out else set()
    out_lines, out_pieces = [], []
    for a in range(0, len(lines), ENCODE_BATCH):
        part = lines[a:a + ENCODE_BATCH]
        for text, pieces in zip(part, sp.encode(part, out_type=str)):
            if prep.truncate:
                pieces = pieces[:prep.truncate]
            if not prep.truncate and len(pieces) > prep.max_len:
                counts["dropped_longer_than_max_len"] += 1
                continue
            joined = " ".join(pieces)
            if prep.truncate and digest(joined) in held_leads:
                counts["dropped_held_out"] += 1
                continue
            if cfg.max_lines is not None and len(out_lines) == cfg.max_lines:
                counts["dropped_past_max_lines"] += 1
                continue
            out_lines.append(text)
            out_pieces.append(joined)
    return out_lines, out_pieces


def prepare_mono(cfg):
    """Write ``cfg.out_dir`` (layout: the module docstring); returns the counts of prepare-mono.json."""
    out_dir, like = os.path.abspath(cfg.out_dir), os.path.abspath(cfg.like)
    prep = Preparation(like)
    for named, path in ((f"TEXT {cfg.text}", cfg.text), (f"--like {cfg.like}", like)):
        if inside(path, out_dir) or inside(out_dir, path):
            raise KdseqError(f"--out-dir {cfg.out_dir} and {named} overlap: choose another --out-dir (the inputs "
                             "are never written to)")
    check_output_dir(out_dir, RECORD)
    record_path = os.path.join(out_dir, RECORD)
    settings = {"like": os.path.realpath(like), "max_lines": cfg.max_lines,
                "keep_train_sources": cfg.keep_train_sources, "max_len": prep.max_len,
                "truncate_source": prep.truncate}
    inputs = describe_inputs(cfg, prep)
    if check_rerun(record_path, settings, inputs, cfg.force):
        log.info(f"{out_dir} is already made from these inputs and settings ({RECORD}); --force rebuilds it")
        return read_record(record_path)["counts"]
    counts = dict.fromkeys(("read", "dropped_empty", "dropped_duplicate", "dropped_held_out", "dropped_train_source",
                            "dropped_longer_than_max_len", "dropped_past_max_lines"), 0)
    lines, pieces = encode(cfg, prep, read_lines(cfg, prep, counts), counts)
    if not lines:
        why = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        raise KdseqError(f"TEXT {cfg.text}: no line left to translate ({why}): give text that is not already in "
                         "the corpus or its held-out splits")
    counts["kept"] = len(lines)
    src, tgt = prep.src, prep.tgt
    with staged_dir(out_dir) as tmp:
        for d in ("raw", "spm", "bin"):
            os.makedirs(os.path.join(tmp, d))
        for d, rows in (("raw", lines), ("spm", pieces)):
            with open(os.path.join(tmp, d, f"train.{src}"), "w", encoding="utf-8") as f:
                f.write("".join(x + "\n" for x in rows))
        bin_dir = os.path.join(tmp, "bin")
        binarize_file(os.path.join(tmp, "spm", f"train.{src}"), os.path.join(bin_dir, f"train.{src}-{tgt}.{src}"),
                      prep.dict_file(src))
        for name in sorted(os.listdir(prep.bin)):  # the dictionaries and the held-out splits, unchanged
            if name.startswith("dict.") or (name.endswith((".bin", ".idx")) and not name.startswith("train.")):
                shutil.copy(os.path.join(prep.bin, name), bin_dir)
        with open(os.path.join(tmp, RECORD), "w") as f:
            json.dump({"counts": counts, "src_lang": src, "tgt_lang": tgt, "settings": settings, "inputs": inputs},
                      f, indent=1, sort_keys=True)
    log.info(f"{counts['kept']} of {counts['read']} lines kept -> {os.path.join(out_dir, 'bin')} "
             f"({', '.join(f'{k} {v}' for k, v in counts.items() if k.startswith('dropped') and v) or 'none dropped'})")
    return counts
