"""The fairseq-train arguments that start a model from a trained checkpoint, printed one a line for the INIT_FROM of
scripts/train-student.sh and train-teacher.sh: the checkpoint's architecture (so the new model has its shape) and
``--finetune-from-model`` (its weights; optimizer, scheduler and counters start afresh). The checkpoint's
dictionaries are checked against the data's first: a model of another vocabulary is refused by name.

  python -m kdseq.cli.init_from CHECKPOINT DATA_BIN
"""
import argparse
import os

from kdseq.checkpoints import allow_fairseq_checkpoints, check_checkpoint_dictionaries, read_checkpoint, split_paths
from kdseq.cli import user_errors
from kdseq.data.binarized import check_binarized_folder, infer_language_pair
from kdseq.errors import KdseqError

# the fields that fix a transformer's shape; booleans are store_true flags (given only when set)
SHAPE = ["arch", "encoder_layers", "decoder_layers", "encoder_embed_dim", "decoder_embed_dim",
         "encoder_ffn_embed_dim", "decoder_ffn_embed_dim", "encoder_attention_heads", "decoder_attention_heads",
         "activation_fn", "encoder_normalize_before", "decoder_normalize_before", "share_all_embeddings",
         "share_decoder_input_output_embed", "encoder_learned_pos", "decoder_learned_pos", "layernorm_embedding",
         "no_scale_embedding"]


def architecture_args(model_cfg):
    """fairseq-train flags that rebuild the architecture recorded in a checkpoint's ``cfg.model``."""
    args = []
    for key in SHAPE:
        value = getattr(model_cfg, key, None)
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    if not args or args[0] != "--arch":
        raise KdseqError("the checkpoint records no architecture (cfg.model.arch): give a fairseq-train checkpoint")
    return args


@user_errors("INIT_FROM")
def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m kdseq.cli.init_from", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("data", help="the binarized folder the new model trains on")
    a = p.parse_args(argv)

    allow_fairseq_checkpoints()
    paths = split_paths(a.checkpoint, "INIT_FROM")
    if len(paths) > 1:
        raise KdseqError(f"INIT_FROM {a.checkpoint}: a model starts from one checkpoint, not an ensemble")
    path = paths[0]
    state = read_checkpoint(path, "INIT_FROM")
    check_binarized_folder(a.data, "DATA_BIN")
    src, tgt = infer_language_pair(a.data)
    if not src:
        raise KdseqError(f"{a.data}: no binarized <split>.<src>-<tgt> files: give kdseq-prepare's <out>/bin folder")
    files = {"source": os.path.join(a.data, f"dict.{src}.txt"), "target": os.path.join(a.data, f"dict.{tgt}.txt")}
    check_checkpoint_dictionaries(state, path, files, "INIT_FROM")
    try:
        args = architecture_args(state["cfg"].model)
    except KdseqError as e:
        raise KdseqError(f"INIT_FROM {path}: {e}") from None
    print("\n".join(args + ["--finetune-from-model", os.path.abspath(path)]))


if __name__ == "__main__":
    raise SystemExit(main())
