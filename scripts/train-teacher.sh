#!/usr/bin/env bash
# Train a transformer teacher with fairseq-train and the kdseq user dir.
#
#   scripts/train-teacher.sh PRESET DATA_BIN SAVE_DIR [extra fairseq-train args...]
#
# Presets:
#   cpu-demo  3+3 layers, 192 wide, pre-norm (3.9M parameters with a 4k joint vocabulary), 2,000 updates: 8-13
#             minutes on 2 cores (the demo stops it at 1,200).
#   gpu-base  transformer base (6+6 layers, 512 wide, about 48M parameters with an 8k joint vocabulary), fp16:
#             for real use on a GPU.
# CUDA (and fp16 for gpu-base) is used when torch sees a GPU, --cpu otherwise. Extra arguments go to
# fairseq-train last, so they override the preset (e.g. --max-update 2000). A SAVE_DIR that already has
# checkpoint_last.pt resumes from it (fairseq's own behaviour) if it was started with the same arguments
# (SAVE_DIR/command.txt; others are refused); a finished training writes SAVE_DIR/training.json. INIT_FROM=CKPT (environment) starts from a trained
# checkpoint, in its architecture, as in train-student.sh.
set -euo pipefail

usage() { echo "usage: $0 {cpu-demo|gpu-base} DATA_BIN SAVE_DIR [fairseq-train args...]" >&2; exit 1; }
[ $# -ge 3 ] || usage
PRESET=$1 DATA=$2 SAVE=$3
shift 3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${SEED:=1}"
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
check_data "$DATA"

case "$PRESET" in
  cpu-demo)
    # Sized for 2 CPU cores (~10 minutes, ~4 epochs of LibreOffice en-de): pre-norm, small batches and a high
    # learning rate learn fastest in this few-update regime; no dropout since it under-fits anyway.
    ARCH=(--arch transformer --share-all-embeddings --encoder-normalize-before --decoder-normalize-before
          --encoder-layers 3 --decoder-layers 3 --encoder-embed-dim 192 --decoder-embed-dim 192
          --encoder-ffn-embed-dim 768 --decoder-ffn-embed-dim 768
          --encoder-attention-heads 4 --decoder-attention-heads 4)
    ARGS=(--dropout 0.0 --attention-dropout 0.0 --activation-dropout 0.0
          --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0
          --lr 3e-3 --lr-scheduler inverse_sqrt --warmup-updates 300 --warmup-init-lr 1e-7
          --criterion label_smoothed_cross_entropy --label-smoothing 0.1
          --max-tokens 2048 --max-update 2000 --validate-interval-updates 1000 --save-interval-updates 1000
          --keep-interval-updates 1 --no-epoch-checkpoints)
    ;;
  gpu-base)
    ARCH=(--arch transformer --share-all-embeddings)
    ARGS=(--dropout 0.3 --attention-dropout 0.1 --activation-dropout 0.1 --weight-decay 0.0001
          --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
          --lr 7e-4 --lr-scheduler inverse_sqrt --warmup-updates 4000 --warmup-init-lr 1e-7
          --criterion label_smoothed_cross_entropy --label-smoothing 0.1
          --max-tokens 8192 --max-update 30000 --validate-interval-updates 2000 --save-interval-updates 2000
          --keep-interval-updates 2 --no-epoch-checkpoints --patience 5 ${FP16_ARGS[@]+"${FP16_ARGS[@]}"})
    ;;
  *) echo "error: unknown preset '$PRESET'" >&2; usage ;;
esac

# INIT_FROM=CKPT: start from that checkpoint's weights in its architecture (a headline teacher warm-started from
# the translation teacher of the same vocabulary)
init_from "$DATA"

begin_training "$SAVE" "$PRESET $DATA SEED=$SEED${INIT_FROM:+ INIT_FROM=$INIT_FROM} $*"
echo "[train-teacher] preset $PRESET on $DATA -> $SAVE ($DEVICE)"
"$PYTHON" -m fairseq_cli.train "$DATA" --user-dir "$ROOT/kdseq" --save-dir "$SAVE" --seed "$SEED" \
  "${ARCH[@]}" "${ARGS[@]}" ${DEVICE_ARGS[@]+"${DEVICE_ARGS[@]}"} --log-format simple --log-interval 50 \
  --best-checkpoint-metric loss --skip-invalid-size-inputs-valid-test "$@"
end_training "$SAVE"
echo "[train-teacher] done: $SAVE/checkpoint_best.pt"
