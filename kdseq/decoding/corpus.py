"""The split a teacher translates: the student's source (written to the distilled corpus), the source the teacher
reads (the same one, or a second binarized source aligned line by line), references, and the dictionaries.

Read with numpy (:mod:`kdseq.data.binarized`), not fairseq: decoding with CTranslate2 then never imports fairseq
or torch (seconds of start-up per command). The fairseq task and dataset are built only when asked for
(:attr:`Corpus.teacher_task`, :attr:`Corpus.teacher_dataset`: the fairseq backend and the fairseq teacher)."""
import logging
import os

from kdseq.checkpoints import translation_task
from kdseq.data import teacher_source
from kdseq.data.binarized import (Dictionary, IndexedSeqs, check_binarized_folder, fingerprint_seqs,
                                  infer_language_pair, split_prefix)
from kdseq.errors import KdseqError

log = logging.getLogger(__name__)


class Side:
    """One binarized folder's split: its language pair (inferred from the file names, as fairseq does), both
    dictionaries, the source sentences and, where the folder has them, the targets."""

    def __init__(self, data_dir, split, flag):
        check_binarized_folder(data_dir, flag)
        self.data_dir, self.flag = data_dir, flag
        self.src_lang, self.tgt_lang = infer_language_pair(data_dir)
        if self.src_lang is None:
            raise KdseqError(f"{flag} {data_dir}: no binarized file named <split>.<src>-<tgt>.<lang>.idx there, so "
                             "its language pair is unknown")
        self.src_dict_file, self.tgt_dict_file = (os.path.join(data_dir, f"dict.{lang}.txt")
                                                  for lang in (self.src_lang, self.tgt_lang))
        for f in (self.src_dict_file, self.tgt_dict_file):
            if not os.path.exists(f):
                raise KdseqError(f"{flag} {data_dir}: {os.path.basename(f)} is missing (its files are of the pair "
                                 f"{self.src_lang}-{self.tgt_lang})")
        self.src_dict, self.tgt_dict = Dictionary.load(self.src_dict_file), Dictionary.load(self.tgt_dict_file)
        src = split_prefix(data_dir, split, self.src_lang, self.tgt_lang, self.src_lang)
        if src is None:
            raise KdseqError(f"{flag} {data_dir}: no binarized split {split!r} ({split}.{self.src_lang}-"
                             f"{self.tgt_lang}.{self.src_lang}.idx); --split names one of the "
                             f"{{split}}.{self.src_lang}-{self.tgt_lang}.* files there")
        self.src = IndexedSeqs(src)
        tgt = split_prefix(data_dir, split, self.src_lang, self.tgt_lang, self.tgt_lang)
        self.tgt = IndexedSeqs(tgt) if tgt else None
        if self.tgt is not None and len(self.tgt) != len(self.src):
            raise KdseqError(f"{flag} {data_dir}: split {split!r} has {len(self.src)} sources but {len(self.tgt)} "
                             "targets: binarize it again")


class Corpus:
    """A binarized split from a fairseq data folder; with ``teacher_source`` (another data folder with the same
    split and as many sentences) the teacher reads that folder's sources instead of the student's."""

    def __init__(self, data_dir, split, teacher_source=None, other_sources=()):
        self.data_dir, self.split, self.teacher_source = data_dir, split, teacher_source
        self.side = Side(data_dir, split, "DATA")
        self.src_lang, self.tgt_lang = self.side.src_lang, self.side.tgt_lang
        self.src_dict, self.tgt_dict = self.side.src_dict, self.side.tgt_dict
        self.has_refs = self.side.tgt is not None
        self.teacher_side = self._aligned_side(teacher_source, split) if teacher_source else self.side
        self.other_sides = [self._aligned_side(d, split) for d in other_sources]  # written along, never read
        self.teacher_src_dict = self.teacher_side.src_dict
        self.teacher_src_lang = self.teacher_side.src_lang
        self._sizes = [int(x) for x in self.teacher_side.src.sizes]  # with EOS, as binarized
        self.max_source = None
        self.lengths = list(self._sizes)
        self.truncated = 0
        self._fairseq = None

    def _aligned_side(self, folder, split):
        """A teacher's source (--teacher-source): aligned line by line, its target dictionary the data's."""
        source = teacher_source.describe(folder, "--teacher-source")
        if split_prefix(folder, split, source.lang, source.tgt_lang, source.lang) is None:
            teacher_source.check_split(source, split, None, len(self.side.src), self.data_dir)  # names the split
        side = Side(folder, split, "--teacher-source")
        teacher_source.check_split(source, split, len(side.src), len(self.side.src), self.data_dir)
        teacher_source.check_target_dictionary(source, side.tgt_dict, self.tgt_dict, self.side.tgt_dict_file)
        return side

    def __len__(self):
        return len(self.lengths)

    def _fairseq_side(self):
        """(task, dataset) of the teacher's side, built by fairseq (imports it): for the fairseq backend."""
        if self._fairseq is None:
            s = self.teacher_side
            task = translation_task(s.data_dir, flag=s.flag)
            task.load_dataset(self.split)
            self._fairseq = task, task.dataset(self.split)
        return self._fairseq

    @property
    def teacher_task(self):
        return self._fairseq_side()[0]

    @property
    def teacher_dataset(self):
        return self._fairseq_side()[1]

    def set_max_source(self, max_positions):
        """Sources longer than the teacher's positions are cut to fit (EOS kept) and counted, not fatal."""
        self.max_source = max_positions
        self.lengths = [min(n, max_positions) for n in self._sizes]
        self.truncated = sum(1 for n in self._sizes if n > max_positions)
        if self.truncated:
            longest = max(self._sizes)
            log.warning(f"{self.truncated} sources of {self.split} are longer than the teacher's {max_positions} "
                        f"positions (longest {longest} tokens): the teacher reads their first "
                        f"{max_positions - 1} tokens")

    def src_ids(self, i):
        """The student's source (written to the distilled corpus), without EOS."""
        return self.side.src[i][:-1].tolist()

    def teacher_ids(self, i):
        """The source the teacher reads, without EOS, cut to the teacher's positions."""
        ids = self.teacher_side.src[i][:-1].tolist()
        return ids[: self.max_source - 1] if self.max_source else ids

    def ref_ids(self, i):
        return self.side.tgt[i][:-1].tolist()

    def fingerprint(self):
        """The source dictionary and every source sentence (a resume must translate the same sentences): the
        same value as :func:`kdseq.cache.fingerprint` of fairseq's dataset, ``target=False``."""
        return fingerprint_seqs(self.src_dict.symbols, len(self.side.src), (b"", self.side.src))

    def teacher_fingerprint(self):
        if not self.teacher_source:
            return None
        return fingerprint_seqs(self.teacher_src_dict.symbols, len(self.teacher_side.src),
                                (b"", self.teacher_side.src))
