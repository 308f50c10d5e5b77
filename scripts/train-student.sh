#!/usr/bin/env bash
# Train a student: on gold data (baseline) or by word-level distillation from a teacher.
#
#   scripts/train-student.sh PRESET METHOD DATA_BIN SAVE_DIR [TEACHER.pt[:TEACHER2.pt]] [extra fairseq-train args...]
#
# PRESET: cpu-demo (2+2 layers, 128 wide, 1.4M parameters with a 4k vocabulary) | gpu-small (3+3 layers, 256 wide,
#         about 7.5M parameters with an 8k vocabulary)
# METHOD: baseline  label-smoothed cross-entropy on the gold data
#         word-kd   --criterion word_kd: 0.5 * hard + 0.5 * soft (KL to the teacher, T=1; Kim & Rush 2016);
#                   override with e.g. --kd-alpha 0.9 --kd-temperature 2, --kd-loss mse, --kd-anneal, --kd-topk 8,
#                   or replace the teacher by a cache: pass "-" as TEACHER and --teacher-cache DIR.
#         seq-kd    label-smoothed cross-entropy on a corpus the teacher regenerated (Kim & Rush 2016): DATA_BIN is
#                   a kdseq-regenerate output, <out>/best/bin (seq-KD) or <out>/bleu/bin (seq-inter), the
#                   union of several (kdseq-combine: <out>/bin) or a filtered one (kdseq-filter: <out>/bin)
# INIT_FROM=CKPT (environment): start from a trained checkpoint, in its architecture (see below).
# Extra arguments go to fairseq-train last and override the preset. A SAVE_DIR started with the same arguments
# resumes from its checkpoint_last.pt, one started with others is refused (SAVE_DIR/command.txt); a finished
# training writes SAVE_DIR/training.json. The best checkpoint is chosen by the
# validation NLL of the gold data, the same measure for every method.
set -euo pipefail

usage() { echo "usage: $0 {cpu-demo|gpu-small} {baseline|word-kd|seq-kd} DATA_BIN SAVE_DIR [TEACHER] [fairseq-train args...]" >&2; exit 1; }
[ $# -ge 4 ] || usage
PRESET=$1 METHOD=$2 DATA=$3 SAVE=$4
shift 4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${SEED:=1}"
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
check_data "$DATA"

case "$PRESET" in
  cpu-demo)
    ARCH=(--arch transformer --share-all-embeddings --encoder-normalize-before --decoder-normalize-before
          --encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 128 --decoder-embed-dim 128
          --encoder-ffn-embed-dim 512 --decoder-ffn-embed-dim 512
          --encoder-attention-heads 4 --decoder-attention-heads 4)
    ARGS=(--dropout 0.0 --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0
          --lr 3e-3 --lr-scheduler inverse_sqrt --warmup-updates 300 --warmup-init-lr 1e-7
          --max-tokens 2048 --max-update 2000 --validate-interval-updates 1000 --save-interval-updates 1000
          --keep-interval-updates 1 --no-epoch-checkpoints) ;;
  gpu-small)
    ARCH=(--arch transformer --share-all-embeddings
          --encoder-layers 3 --decoder-layers 3 --encoder-embed-dim 256 --decoder-embed-dim 256
          --encoder-ffn-embed-dim 1024 --decoder-ffn-embed-dim 1024
          --encoder-attention-heads 4 --decoder-attention-heads 4)
    ARGS=(--dropout 0.1 --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
          --lr 1e-3 --lr-scheduler inverse_sqrt --warmup-updates 4000 --warmup-init-lr 1e-7
          --max-tokens 8192 --max-update 30000 --validate-interval-updates 2000 --save-interval-updates 2000
          --keep-interval-updates 2 --no-epoch-checkpoints --patience 5) ;;
  *) echo "error: unknown preset '$PRESET'" >&2; usage ;;
esac

# INIT_FROM=CKPT: the student takes that checkpoint's architecture and starts from its weights (e.g. a
# translation teacher, so that a zero-shot headline student starts out knowing the words)
init_from "$DATA"
WANT="$PRESET $METHOD $DATA SEED=$SEED${INIT_FROM:+ INIT_FROM=$INIT_FROM} $*"

case "$METHOD" in
  baseline) CRIT=(--criterion label_smoothed_cross_entropy --label-smoothing 0.1) ;;
  word-kd)
    [ $# -ge 1 ] || { echo "error: word-kd needs a TEACHER checkpoint (or - with --teacher-cache DIR)" >&2; usage; }
    TEACHER=$1; shift
    CRIT=(--task translation_kd --criterion word_kd --label-smoothing 0.1 --kd-alpha 0.5 --kd-temperature 1)
    [ "$TEACHER" = "-" ] || CRIT+=(--teacher-path "$TEACHER") ;;
  seq-kd)
    [ -f "$DATA/../regenerate.json" ] || [ -f "$DATA/../combine.json" ] || [ -f "$DATA/../filter.json" ] || { echo "error: seq-kd trains on a kdseq-regenerate output (<out>/best/bin or <out>/bleu/bin), a kdseq-combine or a kdseq-filter one (<out>/bin); $DATA/.. has none of regenerate.json, combine.json, filter.json" >&2; exit 1; }
    CRIT=(--criterion label_smoothed_cross_entropy --label-smoothing 0.1) ;;
  *) echo "error: unknown method '$METHOD'" >&2; usage ;;
esac

begin_training "$SAVE" "$WANT"
echo "[train-student] $PRESET $METHOD on $DATA -> $SAVE ($DEVICE)"
"$PYTHON" -m fairseq_cli.train "$DATA" --user-dir "$ROOT/kdseq" --save-dir "$SAVE" --seed "$SEED" \
  "${ARCH[@]}" "${ARGS[@]}" "${CRIT[@]}" ${DEVICE_ARGS[@]+"${DEVICE_ARGS[@]}"} ${FP16_ARGS[@]+"${FP16_ARGS[@]}"} --log-format simple --log-interval 50 \
  --best-checkpoint-metric nll_loss --skip-invalid-size-inputs-valid-test "$@"
end_training "$SAVE"
if [ -f "$SAVE/checkpoint_best.pt" ]; then echo "[train-student] done: $SAVE/checkpoint_best.pt"
else echo "[train-student] done: $SAVE/checkpoint_last.pt (not validated: no best checkpoint)"; fi
