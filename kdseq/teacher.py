"""The frozen teacher (one checkpoint or an ensemble) of word-level distillation.

It lives outside the student's module tree (a plain object, not an nn.Module attribute of the criterion):
fairseq's trainer would otherwise cast it to fp16, put it in the optimizer, wrap it in DDP and save it in
every student checkpoint.
"""
import os

from kdseq.checkpoints import check_checkpoint_dictionaries, dictionary_path, read_checkpoint, split_paths
from kdseq.data.binarized import check_same_dictionary
from kdseq.errors import KdseqError


def _contiguous_input(module, args):
    return (args[0].contiguous(),) + tuple(args[1:])


class Teacher:
    """Frozen ensemble in eval mode; :meth:`__call__` gives each member's output logits for a batch."""

    def __init__(self, path_spec, student_task, teacher_data=None, flag="--teacher-path", check_source=False,
                 source_dict=None):
        """``check_source``: the source dictionaries must match too (the teacher decodes the student's
        binarized sources, as in sequence-level distillation). ``source_dict``: (Dictionary, file) of the source
        the teacher reads when it is not the student's (``--task headline_kd``), checked the same way."""
        from fairseq import tasks

        self.paths = split_paths(path_spec, flag)
        self.models, self.dict_dirs, self.langs = [], [], []
        student_file = dictionary_path(student_task.cfg)
        for path in self.paths:
            state = read_checkpoint(path, flag)
            cfg = state["cfg"]
            if teacher_data:
                files = {side: dictionary_path(cfg.task, side, teacher_data) for side in ("source", "target")}
                for f in files.values():
                    if not os.path.exists(f):
                        raise KdseqError(f"--teacher-data {teacher_data}: no {os.path.basename(f)} there: give the "
                                         "teacher's binarized data folder")
                check_checkpoint_dictionaries(state, path, files, flag)  # --teacher-data is checked, not trusted
                cfg.task.data = teacher_data
            teacher_file = dictionary_path(cfg.task)
            if not os.path.exists(teacher_file):
                raise KdseqError(f"{flag}: the teacher's dictionary {teacher_file} (recorded in {path}) does not "
                                 "exist: pass --teacher-data with the teacher's binarized data folder")
            if not teacher_data:  # with --teacher-data, both of its dictionaries were checked above
                check_checkpoint_dictionaries(state, path, {"target": teacher_file}, flag)
            task = tasks.setup_task(cfg.task)
            check_same_dictionary(task.target_dictionary, teacher_file, student_task.target_dictionary,
                                  student_file)
            if source_dict is not None:
                check_same_dictionary(task.source_dictionary, dictionary_path(cfg.task, "source"), source_dict[0],
                                      source_dict[1], "source", who=("teacher", "--teacher-source-data"))
            if check_source:
                src_file = dictionary_path(student_task.cfg, "source")
                check_same_dictionary(task.source_dictionary, dictionary_path(cfg.task, "source"),
                                      student_task.source_dictionary, src_file, "source")
            self.dict_dirs.append(os.path.dirname(teacher_file))
            self.langs.append((task.cfg.source_lang, task.cfg.target_lang))  # its own names (its dictionary files)
            model = task.build_model(cfg.model)
            try:
                model.load_state_dict(state["model"], strict=True, model_cfg=cfg.model)
            except RuntimeError as e:
                raise KdseqError(f"{flag}: {path} does not fit its own configuration ({str(e)[:300]}): a damaged "
                                 "or foreign checkpoint") from None
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            proj = getattr(getattr(model, "decoder", None), "output_projection", None)
            if proj is not None:  # features arrive transposed (B, T, C); without grad, torch's matmul would then
                # run the vocabulary projection as a batched matmul against a broadcast weight, not one mm:
                # 9% of the teacher's forward pass (152 vs 166 ms on 2,048-token batches of the demo teacher)
                proj.register_forward_pre_hook(_contiguous_input)
            self.models.append(model)
        self.device, self.dtype = None, None

    @classmethod
    def for_task(cls, path_spec, task, teacher_data=None):
        """The teacher of a training (or caching) task: it reads the task's teacher source where the task has one
        (``--task headline_kd``), whose dictionary is then checked too, else the student's source."""
        own = getattr(task, "teacher_source_dictionary", None)
        return cls(path_spec, task, teacher_data, source_dict=(own, task.teacher_dict_file) if own is not None else None)

    def to(self, device, dtype=None):
        import torch

        dtype = dtype or torch.float32
        if (device, dtype) != (self.device, self.dtype):
            for m in self.models:
                m.to(device=device, dtype=dtype)
            self.device, self.dtype = device, dtype
        return self

    def __call__(self, net_input):
        """Raw decoder logits (B, T, V) of every member, teacher-forced on ``net_input``, or on its own input when
        ``net_input`` is a list (one per member: teachers reading their own sources)."""
        import torch

        inputs = net_input if isinstance(net_input, list) else [net_input] * len(self.models)
        with torch.no_grad():
            return [m(**x)[0] for m, x in zip(self.models, inputs)]
