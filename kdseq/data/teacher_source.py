"""The teacher-source folder: a binarized folder aligned line by line with the student's data, whose sources a
teacher reads instead of the student's (``kdseq-regenerate --teacher-source``, ``--task headline_kd
--teacher-source-data``, ``kdseq-cache-teacher --teacher-source-data``).

Its checks and their messages live here, with numpy alone. Both readers call them: :mod:`kdseq.decoding.corpus`
(numpy, so that decoding with CTranslate2 never imports torch) and :mod:`kdseq.tasks.headline_kd` (fairseq's
datasets, for training)."""
import os
from typing import NamedTuple

import numpy as np

from kdseq.data.binarized import check_same_dictionary, infer_language_pair
from kdseq.errors import KdseqError


class TeacherSourceFolder(NamedTuple):
    """One teacher-source folder: its language pair (inferred from its file names, as fairseq does) and the
    dictionary file of the source the teacher reads."""
    folder: str
    lang: str
    tgt_lang: str
    dict_file: str
    flag: str

    @property
    def pair(self):
        return f"{self.lang}-{self.tgt_lang}"

    def prefix(self, split, lang):
        """The binarized files of ``split``'s ``lang`` side (``<folder>/<split>.<src>-<tgt>.<lang>``)."""
        return os.path.join(self.folder, f"{split}.{self.pair}.{lang}")


def describe(folder, flag, tgt_lang=None):
    """The :class:`TeacherSourceFolder` of ``folder`` (given by ``flag``), checked: it exists, its file names give a
    language pair and its source dictionary is there (``tgt_lang``: the data's target, named in the message)."""
    if not os.path.isdir(folder):
        raise KdseqError(f"{flag} {folder}: no such folder")
    lang, tgt = infer_language_pair(folder)
    if not lang:
        raise KdseqError(f"{flag} {folder}: not a fairseq binarized folder (no <split>.L-{tgt_lang or '<tgt>'}.L "
                         "files)")
    dict_file = os.path.join(folder, f"dict.{lang}.txt")
    if not os.path.exists(dict_file):
        raise KdseqError(f"{flag} {folder}: no dict.{lang}.txt there")
    return TeacherSourceFolder(folder, lang, tgt, dict_file, flag)


def check_split(source, split, n_teacher, n_student, data):
    """The split is there (``n_teacher`` is None when it is not) and has as many sentences as the student's data
    (``data``, a folder name for the message)."""
    if n_teacher is None:
        raise KdseqError(f"{source.flag} {source.folder}: no split {split!r} ({source.prefix(split, source.lang)}.bin)")
    if n_teacher != n_student:
        raise KdseqError(f"{source.flag} {source.folder}: split {split!r} has {n_teacher} sentences, {data} has "
                         f"{n_student}: every teacher's source must be aligned line by line with the student's "
                         "(prepared or regenerated together)")


def check_same_targets(source, split, teacher_tgt_sizes, student_tgt_sizes):
    """Both folders hold the same targets, line by line (compared by length: a folder prepared or regenerated
    apart differs at its first shifted line)."""
    a, b = np.asarray(teacher_tgt_sizes), np.asarray(student_tgt_sizes)
    if not np.array_equal(a, b):
        bad = int(np.nonzero(a != b)[0][0]) if len(a) == len(b) else min(len(a), len(b))
        raise KdseqError(f"{source.flag} {source.folder}: split {split!r} is not aligned with the data: the "
                         f"targets differ at line {bad + 1}")


def check_one_dictionary(sources, dictionaries):
    """Several teachers' sources share one source dictionary (``dictionaries``: their loaded symbols lists)."""
    for other, symbols in zip(sources[1:], dictionaries[1:]):
        if symbols != dictionaries[0]:
            raise KdseqError(f"{other.flag}: {other.dict_file} differs from {sources[0].dict_file}: the teachers' "
                             "sources must be binarized with one dictionary (kdseq-prepare with the same --dict)")


def check_target_dictionary(source, tgt_dict, data_tgt_dict, data_tgt_dict_file):
    """The folder's target dictionary is the data's: the teacher writes the student's targets."""
    check_same_dictionary(tgt_dict, os.path.join(source.folder, f"dict.{source.tgt_lang}.txt"), data_tgt_dict,
                          data_tgt_dict_file, "target")
