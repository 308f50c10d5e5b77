#!/usr/bin/env bash
# The main job: set up, prepare LibreOffice help en-de, train the CPU teacher, evaluate it greedy vs beam.
#
#   bash scripts/demo.sh
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing. Outputs: work/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${TEACHER_PRESET:=cpu-demo}"
export WORK
start=$(date +%s)
stamp() { echo "[demo] $(( $(date +%s) - start ))s: $*"; }

stamp "set-up"
bash "$ROOT/scripts/setup-env.sh"
# shellcheck disable=SC1091
source "$KDSEQ_VENV/bin/activate"

stamp "data: LibreOffice help en-de"
bash "$ROOT/data-prep/libreoffice.sh" de
DATA="$WORK/libreoffice-en-de/data/bin"

TEACHER="$WORK/models/teacher"
if [ ! -f "$TEACHER/.done" ]; then  # an interrupted run resumes from checkpoint_last.pt
  stamp "teacher: training ($TEACHER_PRESET); log: $WORK/models/teacher.log"
  mkdir -p "$WORK/models"
  bash "$ROOT/scripts/train-teacher.sh" "$TEACHER_PRESET" "$DATA" "$TEACHER" > "$WORK/models/teacher.log" 2>&1 \
    || { tail -20 "$WORK/models/teacher.log"; exit 1; }
  touch "$TEACHER/.done"
fi
grep -E "\| valid \|" "$WORK/models/teacher.log" | tail -1 || true

stamp "evaluate: teacher greedy and beam 5 on the held-out smath module"
RESULTS="$WORK/results"
bash "$ROOT/scripts/evaluate.sh" "$DATA" "$TEACHER/checkpoint_best.pt" teacher "$RESULTS" > /dev/null

stamp "done"
kdseq-report "$RESULTS"/teacher.test.beam*.json
echo
echo "outputs: data $DATA, teacher $TEACHER, hypotheses and JSON results $RESULTS"
