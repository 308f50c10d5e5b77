"""Loading fairseq checkpoints (one, or an ensemble given as paths joined by colons).

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses fairseq checkpoints (they pickle
argparse.Namespace and omegaconf objects). Importing kdseq sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
unless the user set it: this trusts the checkpoints you load, as pickles always do. Load only checkpoints
you made or trust.
"""
import os

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


def load_ensemble(path_spec, data_dir=None, flag="--path", device="cpu", fp16=False):
    """(models, task, cfg) for the checkpoints in ``path_spec``; models in eval mode on ``device``."""
    from fairseq import checkpoint_utils

    from kdseq.teacher import check_checkpoint_dictionaries, dictionary_path

    from fairseq.dataclass.utils import overwrite_args_by_name

    paths = split_paths(path_spec, flag)
    overrides = {"data": data_dir} if data_dir else {}
    state = None
    if data_dir:
        for path in paths:  # the model must read and write the data's vocabulary, not one of the same size
            try:
                state = checkpoint_utils.load_checkpoint_to_cpu(path)
                cfg_task = state["cfg"].task
            except Exception as e:  # a corrupt file raises UnpicklingError, EOFError, RuntimeError, KeyError, ...
                raise KdseqError(f"{flag}: cannot load checkpoint {path}: {type(e).__name__}: {e}") from None
            files = {side: dictionary_path(cfg_task, side, data_dir) for side in ("source", "target")}
            if not all(os.path.exists(f) for f in files.values()):
                # a folder of one other language pair (e.g. eh-zh for a model trained on en-zh with the same
                # dictionary): read it under its own names; the dictionaries are compared by content below
                from fairseq.data import data_utils

                src, tgt = data_utils.infer_language_pair(data_dir)
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

    from kdseq.data.binarized import check_binarized_folder

    check_binarized_folder(data_dir, flag)
    args = options.parse_args_and_arch(options.get_generation_parser(), input_args=[data_dir, "--task", task,
                                                                                        *extra_args])
    return tasks.setup_task(convert_namespace_to_omegaconf(args).task)
