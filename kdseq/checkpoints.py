"""Loading fairseq checkpoints (one, or an ensemble given as paths joined by colons).

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses fairseq checkpoints (they pickle
argparse.Namespace and omegaconf objects). Importing kdseq sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
unless the user set it: this trusts the checkpoints you load, as pickles always do. Load only checkpoints
you made or trust.
"""
import os

from kdseq.data.binarized import Dictionary, check_binarized_folder, check_same_dictionary, infer_language_pair
from kdseq.errors import KdseqError


def allow_fairseq_checkpoints():
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def split_paths(path_spec, flag="--path"):
    """``a.pt:b.pt`` -> ['a.pt', 'b.pt'], each checked to exist and be readable."""
    paths = [p for p in path_spec.split(":") if p]
    if not paths:
        raise KdseqError(f"{flag} is empty: give a checkpoint, or several joined by ':'")
    for p in paths:
        if not os.path.isfile(p):
            raise KdseqError(f"{flag}: checkpoint {p} does not exist")
        if not os.access(p, os.R_OK):
            raise KdseqError(f"{flag}: checkpoint {p} is not readable")
    return paths


def read_checkpoint(path, flag="--path"):
    """The state dict of one fairseq checkpoint (on CPU), or an error naming the file."""
    from fairseq import checkpoint_utils

    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(path)
    except Exception as e:  # a corrupt file raises UnpicklingError, EOFError, RuntimeError, KeyError, ...
        raise KdseqError(f"{flag}: cannot load checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(state, dict) or "cfg" not in state or "model" not in state:
        raise KdseqError(f"{flag}: {path} is not a fairseq checkpoint (no cfg/model in it)")
    return state


def dictionary_path(task_cfg, side="target", data=None):
    """The target (or source) dictionary file a checkpoint's task was built from, or would be in the folder
    ``data`` (languages fairseq inferred from the data folder are not saved in the checkpoint: infer them the
    same way)."""
    data = (data or task_cfg.data).split(":")[0]
    src, tgt = task_cfg.source_lang, task_cfg.target_lang
    if (src is None or tgt is None) and os.path.isdir(data):
        src, tgt = infer_language_pair(data)
    return os.path.join(data, f"dict.{tgt if side == 'target' else src}.txt")


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


def load_ensemble(path_spec, data_dir=None, flag="--path", device="cpu", fp16=False):
    """(models, task, cfg) for the checkpoints in ``path_spec``; models in eval mode on ``device``."""
    from fairseq import checkpoint_utils
    from fairseq.dataclass.utils import overwrite_args_by_name

    paths = split_paths(path_spec, flag)
    overrides = {"data": data_dir} if data_dir else {}
    state = None
    if data_dir:
        for path in paths:  # the model must read and write the data's vocabulary, not one of the same size
            state = read_checkpoint(path, flag)
            cfg_task = state["cfg"].task
            files = {side: dictionary_path(cfg_task, side, data_dir) for side in ("source", "target")}
            if not all(os.path.exists(f) for f in files.values()):
                # a folder of one other language pair (e.g. eh-zh for a model trained on en-zh with the same
                # dictionary): read it under its own names; the dictionaries are compared by content below
                src, tgt = infer_language_pair(data_dir)
                if src and tgt:
                    overrides.update(source_lang=src, target_lang=tgt)
                    files = {"source": os.path.join(data_dir, f"dict.{src}.txt"),
                             "target": os.path.join(data_dir, f"dict.{tgt}.txt")}
            for f in files.values():
                if not os.path.exists(f):
                    raise KdseqError(f"{data_dir}: no {os.path.basename(f)} (the dictionary of the languages "
                                     f"{path} was trained on): give the binarized folder of that language pair")
            check_checkpoint_dictionaries(state, path, files, flag)
        if len(paths) == 1:  # read once: hand the checked state to fairseq, overridden as it would do itself
            overwrite_args_by_name(state["cfg"], overrides)
        else:
            state = None
    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(paths, arg_overrides=overrides,
                                                                           state=state)
    except Exception as e:  # a corrupt file raises UnpicklingError, EOFError, RuntimeError, KeyError, ...
        raise KdseqError(f"{flag}: cannot load checkpoint(s) {path_spec}: {type(e).__name__}: {str(e)[:300]}") \
            from None
    for m in models:
        m.eval()
        if fp16:
            m.half()
        m.to(device)
    return models, task, cfg


def count_parameters(models):
    return sum(p.numel() for m in models for p in m.parameters())


def translation_task(data_dir, task="translation", flag="DATA", extra_args=()):
    """A fairseq translation task on ``data_dir`` built the way fairseq's CLIs build it (every default and
    interpolation resolved; languages inferred from the dictionary files)."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf


    check_binarized_folder(data_dir, flag)
    args = options.parse_args_and_arch(options.get_generation_parser(), input_args=[data_dir, "--task", task,
                                                                                        *extra_args])
    return tasks.setup_task(convert_namespace_to_omegaconf(args).task)
