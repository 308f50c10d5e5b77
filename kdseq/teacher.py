"""The frozen teacher (one checkpoint or an ensemble) of word-level distillation.

It lives outside the student's module tree (a plain object, not an nn.Module attribute of the criterion):
fairseq's trainer would otherwise cast it to fp16, put it in the optimizer, wrap it in DDP and save it in
every student checkpoint.
"""
import os

import torch

from kdseq.checkpoints import split_paths
from kdseq.errors import KdseqError


def dictionary_path(task_cfg, side="target"):
    """The target (or source) dictionary file a checkpoint's task was built from (languages fairseq inferred
    from the data folder are not saved in the checkpoint: infer them the same way)."""
    from fairseq.data import data_utils

    data = task_cfg.data.split(":")[0]
    src, tgt = task_cfg.source_lang, task_cfg.target_lang
    if (src is None or tgt is None) and os.path.isdir(data):
        src, tgt = data_utils.infer_language_pair(data)
    return os.path.join(data, f"dict.{tgt if side == 'target' else src}.txt")


def check_same_dictionary(teacher_dict, teacher_file, student_dict, student_file, side="target"):
    if teacher_dict.symbols == student_dict.symbols:
        return
    for i, (a, b) in enumerate(zip(teacher_dict.symbols, student_dict.symbols)):
        if a != b:
            raise KdseqError(f"teacher and student {side} dictionaries differ: {teacher_file} has {a!r} at index "
                             f"{i} where {student_file} has {b!r}; distil with the teacher's dictionary "
                             "(binarize the student's data with fairseq-preprocess --tgtdict/--srcdict)")
    raise KdseqError(f"teacher and student {side} dictionaries differ in size: {teacher_file} has "
                     f"{len(teacher_dict)} entries, {student_file} has {len(student_dict)}")


class Teacher:
    """Frozen ensemble in eval mode; :meth:`__call__` gives each member's output logits for a batch."""

    def __init__(self, path_spec, student_task, teacher_data=None, flag="--teacher-path", check_source=False):
        """``check_source``: the source dictionaries must match too (the teacher decodes the student's
        binarized sources, as in sequence-level distillation)."""
        from fairseq import checkpoint_utils, tasks

        self.paths = split_paths(path_spec, flag)
        self.models, self.dict_dirs = [], []
        student_file = dictionary_path(student_task.cfg)
        for path in self.paths:
            try:
                state = checkpoint_utils.load_checkpoint_to_cpu(path)
            except Exception as e:  # torch raises many types for a corrupt file
                raise KdseqError(f"{flag}: cannot load checkpoint {path}: {type(e).__name__}: {e}") from e
            cfg = state["cfg"]
            if teacher_data:
                cfg.task.data = teacher_data
            teacher_file = dictionary_path(cfg.task)
            if not os.path.exists(teacher_file):
                raise KdseqError(f"{flag}: the teacher's dictionary {teacher_file} (recorded in {path}) does not "
                                 "exist: pass --teacher-data with the teacher's binarized data folder")
            task = tasks.setup_task(cfg.task)
            check_same_dictionary(task.target_dictionary, teacher_file, student_task.target_dictionary,
                                  student_file)
            if check_source:
                src_file = dictionary_path(student_task.cfg, "source")
                check_same_dictionary(task.source_dictionary, dictionary_path(cfg.task, "source"),
                                      student_task.source_dictionary, src_file, "source")
            self.dict_dirs.append(os.path.dirname(teacher_file))
            model = task.build_model(cfg.model)
            model.load_state_dict(state["model"], strict=True, model_cfg=cfg.model)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self.models.append(model)
        self.device, self.dtype = None, None

    def to(self, device, dtype=torch.float32):
        if (device, dtype) != (self.device, self.dtype):
            for m in self.models:
                m.to(device=device, dtype=dtype)
            self.device, self.dtype = device, dtype
        return self

    @torch.no_grad()
    def __call__(self, net_input):
        """Raw decoder logits (B, T, V) of every member, teacher-forced on ``net_input``."""
        return [m(**net_input)[0] for m in self.models]
