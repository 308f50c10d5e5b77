"""A distilled corpus folder, as kdseq-combine and kdseq-filter read one: a kdseq-regenerate selection
(``<out>/best``, ``<out>/bleu``), a kdseq-combine output or a kdseq-filter output. Each holds its record, ``bin/``
(what a student trains on), ``text/train.{src,tgt}`` (sentencepiece pieces) and ``raw/train.{src,tgt}``, and
optionally ``scores/`` (one score a pair)."""
import os

from kdseq.data.binarized import infer_language_pair
from kdseq.errors import KdseqError
from kdseq.manifest import describe_file

RECORDS = ("regenerate.json", "combine.json", "filter.json")  # what makes a folder a distilled corpus


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


class DistilledCorpus:
    """A distilled corpus folder: its language pair, its train files and its record, checked on construction
    (errors name ``flag`` and the folder)."""

    def __init__(self, folder, flag="CORPUS"):
        self.folder, self.flag = folder, flag
        named = f"{flag} {folder}"
        self.record = next((r for r in RECORDS if os.path.isfile(os.path.join(folder, r))), None)
        if self.record is None:
            raise KdseqError(f"{named}: not a distilled corpus (no {', '.join(RECORDS[:-1])} or {RECORDS[-1]}): give "
                             "a kdseq-regenerate selection (<out>/best), or a kdseq-combine or kdseq-filter output")
        self.bin = os.path.join(folder, "bin")
        if not os.path.isdir(self.bin):
            raise KdseqError(f"{named}: has no bin/ folder: give the selection folder itself (e.g. <out>/best)")
        self.src, self.tgt = infer_language_pair(self.bin)
        self.text = {lang: os.path.join(folder, "text", f"train.{lang}") for lang in (self.src, self.tgt)}
        self.raw = {lang: os.path.join(folder, "raw", f"train.{lang}") for lang in (self.src, self.tgt)}
        for path in (*self.text.values(), *self.raw.values()):
            if not os.path.isfile(path):
                raise KdseqError(f"{named}: {os.path.relpath(path, folder)} is missing: regenerate it")
        self.n = count_lines(self.text[self.src])
        n_tgt = count_lines(self.text[self.tgt])
        if n_tgt != self.n:
            raise KdseqError(f"{named}: text/train.{self.src} has {self.n} lines, text/train.{self.tgt} {n_tgt}: "
                             "the corpus is damaged; regenerate it")

    def describe(self):
        """{file: its description} of the record and the train files (what a later run compares)."""
        entries = {self.record: describe_file(os.path.join(self.folder, self.record),
                                              f"{self.flag} {self.folder}: {self.record}")}
        for side, files in (("text", self.text), ("raw", self.raw)):
            for lang, path in files.items():
                entries[f"{side}/train.{lang}"] = describe_file(path, f"{self.flag} {self.folder}: {side}/train.{lang}")
        return entries

    def scores_file(self, name):
        return os.path.join(self.folder, "scores", name)
