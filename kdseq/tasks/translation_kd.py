"""``--task translation_kd``: fairseq's translation task for word-level distillation.

- It tells the criterion the update number (fairseq passes it to the model only; BAM! teacher annealing,
  ``--kd-anneal``, needs it in the criterion).
- Its batches carry ``kd_subset``, the name of the subset they come from (train, valid, or any other
  ``--valid-subset``), so a teacher cache is read for that subset and no other.

``--task headline_kd`` (below) adds the teacher's own source to every batch, from a second binarized folder.
"""
import os
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from fairseq.data import BaseWrapperDataset
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask

from kdseq.errors import KdseqError


class SubsetTaggedDataset(BaseWrapperDataset):
    """A dataset whose batches say which subset they come from; every other attribute is the wrapped one's."""

    def __init__(self, dataset, subset):
        super().__init__(dataset)
        self.subset = subset

    def __getattr__(self, name):  # src, tgt, src_sizes, tgt_sizes, ... of the LanguagePairDataset
        if name in ("dataset", "subset"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if batch:
            batch["kd_subset"] = self.subset
        return batch

    def ordered_indices(self):
        return self.dataset.ordered_indices()

    def filter_indices_by_size(self, indices, max_sizes):
        return self.dataset.filter_indices_by_size(indices, max_sizes)


@dataclass
class TranslationKDConfig(TranslationConfig):
    pass


@register_task("translation_kd", dataclass=TranslationKDConfig)
class TranslationKDTask(TranslationTask):
    tags_subsets = True

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch, combine, **kwargs)
        self.datasets[split] = SubsetTaggedDataset(self.datasets[split], split)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)


# ------------------------------------------------------------------------------------------------------------
# --task headline_kd: the teacher reads another source than the student (cross-lingual headline generation)

class TeacherSourceDataset(SubsetTaggedDataset):
    """Batches of the student's pairs that also carry ``teacher_net_input``: the teacher's own source for the same
    rows (a second binarized source aligned line by line), padded with the teacher's dictionary, and the
    student's ``prev_output_tokens`` (teacher and student score the same target). With several teachers, each
    reading its own source, ``teacher_net_inputs`` holds one such input per teacher (the first is
    ``teacher_net_input``)."""

    def __init__(self, dataset, subset, teacher_srcs, teacher_dict, left_pad_source):
        super().__init__(dataset, subset)
        self.teacher_srcs, self.teacher_dict, self.left_pad_source = teacher_srcs, teacher_dict, left_pad_source

    @property
    def teacher_src(self):
        return self.teacher_srcs[0]

    def __getattr__(self, name):
        if name in ("dataset", "subset", "teacher_srcs", "teacher_dict", "left_pad_source"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def collater(self, samples):
        from fairseq.data import data_utils

        batch = super().collater(samples)
        if batch and "net_input" in batch:
            ids = batch["id"].tolist()  # the batch's order (sorted by length)
            inputs = []
            for source in self.teacher_srcs:
                src = [source[i] for i in ids]
                inputs.append({
                    "src_tokens": data_utils.collate_tokens(src, self.teacher_dict.pad(), self.teacher_dict.eos(),
                                                            left_pad=self.left_pad_source),
                    "src_lengths": torch.LongTensor([s.numel() for s in src]),
                    "prev_output_tokens": batch["net_input"]["prev_output_tokens"],
                })
            batch["teacher_net_input"] = inputs[0]
            if len(inputs) > 1:
                batch["teacher_net_inputs"] = inputs
        return batch


class TeacherSource(NamedTuple):
    """One folder of --teacher-source-data: the source language, its pair, its dictionary (file and loaded)."""
    folder: str
    lang: str
    pair: str
    dict_file: str
    dictionary: object


@dataclass
class HeadlineKDConfig(TranslationKDConfig):
    teacher_source_data: str = field(default="", metadata={
        "help": "binarized folder aligned line by line with the data: the source the teacher reads "
                "(kdseq-prepare --teacher-source-lang: <out>/bin-teacher; kdseq-regenerate --teacher-source: "
                "<out>/<select>/bin-teacher); several joined by ':', one per teacher of --teacher-path a.pt:b.pt "
                "(each teacher reads its own; a row whose source is empty there is left to the other teachers)"})


@register_task("headline_kd", dataclass=HeadlineKDConfig)
class HeadlineKDTask(TranslationKDTask):
    """translation_kd whose batches also carry the teacher's source (``teacher_net_input``): ``word_kd``'s online
    teacher reads it, ``kdseq-cache-teacher`` caches from it. Its target is the student's (in cross-lingual
    headline distillation: the teacher's own output for its source, from kdseq-regenerate --teacher-source).
    ``--teacher-source-data A:B`` gives each teacher its own source (``teacher_net_inputs``)."""

    _teacher = None

    def _teacher_sources(self):
        """The :class:`TeacherSource` of each folder of --teacher-source-data, checked when
        first needed: a model trained with this task is decoded without it (kdseq-evaluate uses the plain
        translation task)."""
        if self._teacher is not None:
            return self._teacher
        from fairseq.data import Dictionary, data_utils

        cfg = self.cfg
        if not cfg.teacher_source_data:
            raise KdseqError("--task headline_kd needs --teacher-source-data: the binarized folder of the source the "
                             "teacher reads (e.g. <prepared>/bin-teacher)")
        found = []
        for folder in cfg.teacher_source_data.split(":"):
            if not os.path.isdir(folder):
                raise KdseqError(f"--teacher-source-data {folder}: no such folder")
            try:
                lang, teacher_tgt = data_utils.infer_language_pair(folder)
            except Exception:
                lang = None
            if not lang:
                raise KdseqError(f"--teacher-source-data {folder}: not a fairseq binarized folder (no "
                                 f"<split>.L-{cfg.target_lang}.L files)")
            dict_file = os.path.join(folder, f"dict.{lang}.txt")
            if not os.path.exists(dict_file):
                raise KdseqError(f"--teacher-source-data {folder}: no dict.{lang}.txt there")
            found.append(TeacherSource(folder, lang, f"{lang}-{teacher_tgt}", dict_file, Dictionary.load(dict_file)))
        for other in found[1:]:
            if other.dictionary.symbols != found[0].dictionary.symbols:
                raise KdseqError(f"--teacher-source-data: {other.dict_file} differs from {found[0].dict_file}: the "
                                 "teachers' sources must be binarized with one dictionary (kdseq-prepare with the "
                                 "same --dict)")
        self._teacher = found
        return found

    @property
    def teacher_source_count(self):
        return len(self._teacher_sources())

    @property
    def teacher_source_dictionary(self):
        return self._teacher_sources()[0].dictionary

    @property
    def teacher_dict_file(self):
        return self._teacher_sources()[0].dict_file

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        sources = self._teacher_sources()
        super().load_dataset(split, epoch, combine, **kwargs)
        student = self.datasets[split].dataset
        teacher_srcs = [self._load_teacher_source(split, source, student) for source in sources]
        if len(teacher_srcs) > 1:  # every row needs one teacher to read it
            import numpy as np

            empty = np.all([np.asarray(t.sizes) <= 1 for t in teacher_srcs], axis=0)
            if empty.any():
                raise KdseqError(f"--teacher-source-data {self.cfg.teacher_source_data}: split {split!r}, line "
                                 f"{int(np.nonzero(empty)[0][0]) + 1}: every teacher's source is empty, so no teacher "
                                 "can score the row: drop it from the data")
        self.datasets[split] = TeacherSourceDataset(student, split, teacher_srcs, sources[0].dictionary,
                                                    self.cfg.left_pad_source)

    def _load_teacher_source(self, split, source, student):
        from fairseq.data import data_utils

        folder, teacher_lang, teacher_dict = source.folder, source.lang, source.dictionary
        prefix = os.path.join(folder, f"{split}.{source.pair}.")
        teacher_src = data_utils.load_indexed_dataset(prefix + teacher_lang, teacher_dict, self.cfg.dataset_impl)
        if teacher_src is None:
            raise KdseqError(f"--teacher-source-data {folder}: no split {split!r} ({prefix}{teacher_lang}.bin)")
        if len(teacher_src) != len(student):
            raise KdseqError(f"--teacher-source-data {folder}: split {split!r} has {len(teacher_src)} sentences, the "
                             f"data has {len(student)}: the teacher's source must be aligned line by line with the "
                             "student's (prepared or regenerated together)")
        teacher_tgt = data_utils.load_indexed_dataset(prefix + self.cfg.target_lang, teacher_dict, self.cfg.dataset_impl)
        if teacher_tgt is not None and student.tgt is not None:  # both folders hold the same targets: checked
            import numpy as np

            if not np.array_equal(np.asarray(teacher_tgt.sizes), np.asarray(student.tgt_sizes)):
                bad = int(np.nonzero(np.asarray(teacher_tgt.sizes) != np.asarray(student.tgt_sizes))[0][0])
                raise KdseqError(f"--teacher-source-data {folder}: split {split!r} is not aligned with the data: the "
                                 f"targets differ at line {bad + 1}")
        return teacher_src
