#!/usr/bin/env bash
# Evaluate a checkpoint (or ensemble: a.pt:b.pt) greedy and with beam 5 on the test split.
#
#   scripts/evaluate.sh DATA_BIN CHECKPOINT NAME OUT_DIR [extra kdseq-evaluate args...]
#
# Writes OUT_DIR/NAME.test.beam{1,5}.{json,hyp} and prints a markdown table (kdseq-report OUT_DIR/*.json
# combines several models into one table). On a GPU the fairseq backend decodes in half precision (--fp16).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
[ $# -ge 4 ] || { echo "usage: $0 DATA_BIN CHECKPOINT NAME OUT_DIR [kdseq-evaluate args...]" >&2; exit 1; }
DATA=$1 CKPT=$2 NAME=$3 OUT=$4
shift 4
: "${BEAMS:=1,5}"
echo "[evaluate] $NAME ($CKPT) on $DATA, beams $BEAMS"
kdseq-evaluate "$DATA" --path "$CKPT" --name "$NAME" --beams "$BEAMS" --output-dir "$OUT" \
  ${FP16_ARGS[@]+"${FP16_ARGS[@]}"} "$@"
