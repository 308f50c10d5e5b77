"""The split a teacher translates: the student's source (written to the distilled corpus), the source the teacher
reads (the same one, or a second binarized source aligned line by line), references, and the dictionaries."""
import logging

from kdseq.errors import KdseqError

log = logging.getLogger(__name__)


def detok(pieces):
    """sentencepiece pieces (a list of strings) -> text, as fairseq's ``--post-process sentencepiece``."""
    return "".join(pieces).replace("\u2581", " ").strip()


def _load(data_dir, split, flag):
    from kdseq.checkpoints import translation_task

    task = translation_task(data_dir, flag=flag)
    cfg = task.cfg
    try:
        task.load_dataset(split)
    except FileNotFoundError as e:
        raise KdseqError(f"{flag} {data_dir}: no binarized split {split!r} ({e}); --split names one of the "
                         f"{{split}}.{cfg.source_lang}-{cfg.target_lang}.* files there") from None
    return task, task.dataset(split)


class Corpus:
    """A binarized split from a fairseq data folder; with ``teacher_source`` (another data folder with the same
    split and as many sentences) the teacher reads that folder's sources instead of the student's."""

    def __init__(self, data_dir, split, teacher_source=None):
        from kdseq.teacher import check_same_dictionary, dictionary_path

        self.data_dir, self.split, self.teacher_source = data_dir, split, teacher_source
        self.task, self.dataset = _load(data_dir, split, "DATA")
        cfg = self.task.cfg
        self.src_lang, self.tgt_lang = cfg.source_lang, cfg.target_lang
        self.src_dict, self.tgt_dict = self.task.source_dictionary, self.task.target_dictionary
        self.has_refs = self.dataset.tgt is not None
        if teacher_source:
            self.teacher_task, self.teacher_dataset = _load(teacher_source, split, "--teacher-source")
            if len(self.teacher_dataset) != len(self.dataset):
                raise KdseqError(f"--teacher-source {teacher_source}: split {split!r} has {len(self.teacher_dataset)} "
                                 f"sentences, {data_dir} has {len(self.dataset)}: the teacher's source must be "
                                 "aligned line by line with the student's")
            check_same_dictionary(self.teacher_task.target_dictionary, dictionary_path(self.teacher_task.cfg),
                                  self.tgt_dict, dictionary_path(cfg), "target")
        else:
            self.teacher_task, self.teacher_dataset = self.task, self.dataset
        self.teacher_src_dict = self.teacher_task.source_dictionary
        self.teacher_src_lang = self.teacher_task.cfg.source_lang
        self._sizes = [int(x) for x in self.teacher_dataset.src_sizes]  # with EOS, as binarized
        self.max_source = None
        self.lengths = list(self._sizes)
        self.truncated = 0

    def __len__(self):
        return len(self.lengths)

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
        return self.dataset.src[i][:-1].tolist()

    def teacher_ids(self, i):
        """The source the teacher reads, without EOS, cut to the teacher's positions."""
        ids = self.teacher_dataset.src[i][:-1].tolist()
        return ids[: self.max_source - 1] if self.max_source else ids

    def ref_ids(self, i):
        return self.dataset.tgt[i][:-1].tolist()

    def fingerprint(self):
        """The source dictionary and every source sentence (a resume must translate the same sentences)."""
        from kdseq.cache import fingerprint

        return fingerprint(self.dataset, self.src_dict, target=False)

    def teacher_fingerprint(self):
        from kdseq.cache import fingerprint

        if not self.teacher_source:
            return None
        return fingerprint(self.teacher_dataset, self.teacher_src_dict, target=False)
