"""The frozen teacher (one checkpoint or an ensemble) of word-level distillation.

It lives outside the student's module tree (a plain object, not an nn.Module attribute of the criterion):
fairseq's trainer would otherwise cast it to fp16, put it in the optimizer, wrap it in DDP and save it in
every student checkpoint.
"""
import os

from kdseq.checkpoints import split_paths
from kdseq.errors import KdseqError


def dictionary_path(task_cfg, side="target", data=None):
    """The target (or source) dictionary file a checkpoint's task was built from, or would be in the folder
    ``data`` (languages fairseq inferred from the data folder are not saved in the checkpoint: infer them the
    same way)."""
    from kdseq.data.binarized import infer_language_pair

    data = (data or task_cfg.data).split(":")[0]
    src, tgt = task_cfg.source_lang, task_cfg.target_lang
    if (src is None or tgt is None) and os.path.isdir(data):
        src, tgt = infer_language_pair(data)
    return os.path.join(data, f"dict.{tgt if side == 'target' else src}.txt")


def check_same_dictionary(teacher_dict, teacher_file, student_dict, student_file, side="target",
                          who=("teacher", "student"), advice=None):
    """Dictionaries compared by content (every symbol in order), the first difference named."""
    if teacher_dict.symbols == student_dict.symbols:
        return
    advice = advice or ("distil with the teacher's dictionary (kdseq-prepare --spm-model/--dict, or "
                        "fairseq-preprocess --srcdict/--tgtdict)")
    for i, (a, b) in enumerate(zip(teacher_dict.symbols, student_dict.symbols)):
        if a != b:
            raise KdseqError(f"{who[0]} and {who[1]} {side} dictionaries differ: {teacher_file} has {a!r} at index "
                             f"{i} where {student_file} has {b!r}; {advice}")
    raise KdseqError(f"{who[0]} and {who[1]} {side} dictionaries differ in size: {teacher_file} has "
                     f"{len(teacher_dict)} entries, {student_file} has {len(student_dict)}; {advice}")


def _embedding_rows(model_state, side):
    for key in (f"{'encoder' if side == 'source' else 'decoder'}.embed_tokens.weight",
                "decoder.output_projection.weight" if side == "target" else None):
        if key and key in model_state:
            return int(model_state[key].shape[0])
    return None


def check_checkpoint_dictionaries(state, path, dict_files, flag="--path"):
    """Refuse a checkpoint whose model was trained with other dictionaries than ``dict_files`` ({side: file}):
    by content where the dictionary recorded in the checkpoint still exists, by size (its embedding rows)
    always. Guards against BLEU 1.7 from a model reading another vocabulary of the same size."""
    from fairseq.data import Dictionary

    cfg = state["cfg"]
    for side, file in dict_files.items():
        given = Dictionary.load(file)
        recorded = dictionary_path(cfg.task, side)
        if os.path.exists(recorded) and os.path.realpath(recorded) != os.path.realpath(file):
            check_same_dictionary(Dictionary.load(recorded), recorded, given, file, side,
                                  who=(f"the checkpoint {path} (trained with)", "the data"),
                                  advice=f"give {flag} a model trained on this data, or the data it was trained on")
        rows = _embedding_rows(state["model"], side)
        if rows is not None and rows != len(given):
            raise KdseqError(f"{flag} {path}: the model has {rows} {side} embeddings but the {side} dictionary "
                             f"{file} has {len(given)} entries: it was trained with another dictionary; give "
                             "the data it was trained on (or its dictionary)")


def _contiguous_input(module, args):
    return (args[0].contiguous(),) + tuple(args[1:])


class Teacher:
    """Frozen ensemble in eval mode; :meth:`__call__` gives each member's output logits for a batch."""

    def __init__(self, path_spec, student_task, teacher_data=None, flag="--teacher-path", check_source=False,
                 source_dict=None):
        """``check_source``: the source dictionaries must match too (the teacher decodes the student's
        binarized sources, as in sequence-level distillation). ``source_dict``: (Dictionary, file) of the source
        the teacher reads when it is not the student's (``--task headline_kd``), checked the same way."""
        from fairseq import checkpoint_utils, tasks

        self.paths = split_paths(path_spec, flag)
        self.models, self.dict_dirs, self.langs = [], [], []
        student_file = dictionary_path(student_task.cfg)
        for path in self.paths:
            try:
                state = checkpoint_utils.load_checkpoint_to_cpu(path)
            except Exception as e:  # torch raises many types for a corrupt file
                raise KdseqError(f"{flag}: cannot load checkpoint {path}: {type(e).__name__}: {e}") from e
            if not isinstance(state, dict) or "cfg" not in state or "model" not in state:
                raise KdseqError(f"{flag}: {path} is not a fairseq checkpoint (no cfg/model in it)")
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

    def to(self, device, dtype=None):
        import torch

        dtype = dtype or torch.float32
        if (device, dtype) != (self.device, self.dtype):
            for m in self.models:
                m.to(device=device, dtype=dtype)
            self.device, self.dtype = device, dtype
        return self

    def __call__(self, net_input):
        """Raw decoder logits (B, T, V) of every member, teacher-forced on ``net_input``."""
        import torch

        with torch.no_grad():
            return [m(**net_input)[0] for m in self.models]
