"""kdseq-combine: the union of distilled corpora (kdseq-regenerate selections such as ``<out>/best``, earlier
unions, kdseq-filter outputs) as one training corpus, binarized with their shared dictionary.

OUT/text/train.{src,tgt} and OUT/raw/train.{src,tgt} are the inputs' files one after another, in the order given;
OUT/bin/ holds them binarized, with the dictionaries and the valid/test splits of the first input (the held-out
sets stay those of the corpus the students are evaluated on). OUT/combine.json records every input (its record and
the sha256 of its files): a rerun with the same inputs does nothing, one with other inputs is refused.
"""
import logging
import os
import shutil

from kdseq.data.vocab import binarize_file
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, real, staged_dir
from kdseq.manifest import check_rerun, write_record
from kdseq.seqkd.distilled import DistilledCorpus
from kdseq.seqkd.output import TEACHER_SCORES

logger = logging.getLogger(__name__)
RECORD = "combine.json"


def describe_input(i, folder):
    """The corpus of input ``i`` (1-based), checked, and its record entries (its own record and train files)."""
    corpus = DistilledCorpus(folder, "--inputs")
    return corpus, {f"{i}: {k}": v for k, v in corpus.describe().items()}


def _same_dictionaries(first, other, langs):
    for lang in langs:
        a, b = (os.path.join(f, "bin", f"dict.{lang}.txt") for f in (first, other))
        with open(a, "rb") as fa, open(b, "rb") as fb:
            if fa.read() != fb.read():
                raise KdseqError(f"--inputs {other}: bin/dict.{lang}.txt differs from that of {first}: the "
                                 "corpora must come from one kdseq-prepare dictionary (--dict/--spm-model)")


def combine(inputs, out_dir, force=False):
    """Write the union of ``inputs`` (folders) to ``out_dir``; returns its record (None if it was already made from
    exactly these inputs)."""
    if len(inputs) < 2:
        raise KdseqError("--inputs: give at least two distilled corpora to combine")
    folders = [real(f) for f in inputs]
    for f in folders:
        if not os.path.isdir(f):
            raise KdseqError(f"--inputs {f}: no such folder")
    described = [describe_input(i, f) for i, f in enumerate(folders, 1)]
    pair = (described[0][0].src, described[0][0].tgt)
    for f, (c, _) in zip(folders[1:], described[1:]):
        p = (c.src, c.tgt)
        if p != pair:
            raise KdseqError(f"--inputs {f}: language pair {p[0]}-{p[1]}, the first input's is {pair[0]}-{pair[1]}")
        _same_dictionaries(folders[0], f, pair)
    if real(out_dir) in folders:
        raise KdseqError(f"--out-dir {out_dir}: is one of the --inputs: give a new folder")
    check_output_dir(out_dir, RECORD)
    inputs_rec = {k: v for _, entries in described for k, v in entries.items()}
    settings = {"inputs": folders, "held_out_from": folders[0]}
    if check_rerun(os.path.join(out_dir, RECORD), settings, inputs_rec, force=force):
        return None
    src, tgt = pair
    counts = [corpus.n for corpus, _ in described]
    with staged_dir(out_dir) as tmp:
        for side in ("text", "raw"):
            os.makedirs(os.path.join(tmp, side))
            for lang in (src, tgt):
                with open(os.path.join(tmp, side, f"train.{lang}"), "wb") as out:
                    for f in folders:
                        with open(os.path.join(f, side, f"train.{lang}"), "rb") as inp:
                            shutil.copyfileobj(inp, out, 1 << 20)
        scores = [os.path.join(f, "scores", TEACHER_SCORES) for f in folders]
        if all(os.path.isfile(p) for p in scores):  # the teacher's score of every pair, for kdseq-filter
            os.makedirs(os.path.join(tmp, "scores"))
            with open(os.path.join(tmp, "scores", TEACHER_SCORES), "wb") as out:
                for p in scores:
                    with open(p, "rb") as inp:
                        shutil.copyfileobj(inp, out)
        bin_dir = os.path.join(tmp, "bin")
        os.makedirs(bin_dir)
        held = os.path.join(folders[0], "bin")
        for name in sorted(os.listdir(held)):
            if not name.startswith("train."):  # dictionaries, valid, test, test1, ...
                shutil.copy2(os.path.join(held, name), bin_dir)
        for lang in (src, tgt):
            binarize_file(os.path.join(tmp, "text", f"train.{lang}"),
                          os.path.join(bin_dir, f"train.{src}-{tgt}.{lang}"), os.path.join(bin_dir, f"dict.{lang}.txt"))
        record = {"settings": settings, "inputs": inputs_rec, "pairs": counts, "pairs_written": sum(counts),
                  "src_lang": src, "tgt_lang": tgt}
        write_record(os.path.join(tmp, RECORD), record)
    logger.info("%d pairs from %d corpora -> %s", sum(counts), len(folders), out_dir)
    return record
