"""``--task headline_kd``: translation_kd whose batches also carry the source the teacher reads, from a second
binarized folder aligned line by line with the data (cross-lingual headline generation, Ayana et al. 2018: an
English-text -> Chinese-headline student taught by a teacher that reads another source). The folder's checks and
their messages are :mod:`kdseq.data.teacher_source`'s."""
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import Dictionary, data_utils
from fairseq.tasks import register_task

from kdseq.data import teacher_source
from kdseq.errors import KdseqError
from kdseq.tasks.translation_kd import SubsetTaggedDataset, TranslationKDConfig, TranslationKDTask

FLAG = "--teacher-source-data"


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
        """[(:class:`kdseq.data.teacher_source.TeacherSourceFolder`, its source Dictionary)] of each folder of
        --teacher-source-data, checked when first needed: a model trained with this task is decoded without it
        (kdseq-evaluate uses the plain translation task)."""
        if self._teacher is not None:
            return self._teacher
        cfg = self.cfg
        if not cfg.teacher_source_data:
            raise KdseqError("--task headline_kd needs --teacher-source-data: the binarized folder of the source the "
                             "teacher reads (e.g. <prepared>/bin-teacher)")
        found = [teacher_source.describe(folder, FLAG, cfg.target_lang)
                 for folder in cfg.teacher_source_data.split(":")]
        dicts = [Dictionary.load(source.dict_file) for source in found]
        teacher_source.check_one_dictionary(found, [d.symbols for d in dicts])
        self._teacher = list(zip(found, dicts))
        return self._teacher

    @property
    def teacher_source_count(self):
        return len(self._teacher_sources())

    @property
    def teacher_source_dictionary(self):
        return self._teacher_sources()[0][1]

    @property
    def teacher_dict_file(self):
        return self._teacher_sources()[0][0].dict_file

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        sources = self._teacher_sources()
        super().load_dataset(split, epoch, combine, **kwargs)
        student = self.datasets[split].dataset
        teacher_srcs = [self._load_teacher_source(split, source, dictionary, student)
                        for source, dictionary in sources]
        if len(teacher_srcs) > 1:  # every row needs one teacher to read it
            empty = np.all([np.asarray(t.sizes) <= 1 for t in teacher_srcs], axis=0)
            if empty.any():
                raise KdseqError(f"{FLAG} {self.cfg.teacher_source_data}: split {split!r}, line "
                                 f"{int(np.nonzero(empty)[0][0]) + 1}: every teacher's source is empty, so no teacher "
                                 "can score the row: drop it from the data")
        self.datasets[split] = TeacherSourceDataset(student, split, teacher_srcs, sources[0][1],
                                                    self.cfg.left_pad_source)

    def _load_teacher_source(self, split, source, dictionary, student):
        impl = self.cfg.dataset_impl
        teacher_src = data_utils.load_indexed_dataset(source.prefix(split, source.lang), dictionary, impl)
        teacher_source.check_split(source, split, None if teacher_src is None else len(teacher_src), len(student),
                                   "the data")
        teacher_tgt = data_utils.load_indexed_dataset(source.prefix(split, self.cfg.target_lang), dictionary, impl)
        if teacher_tgt is not None and student.tgt is not None:  # both folders hold the same targets: checked
            teacher_source.check_same_targets(source, split, teacher_tgt.sizes, student.tgt_sizes)
        return teacher_src
