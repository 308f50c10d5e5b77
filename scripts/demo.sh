#!/usr/bin/env bash
# The main job: set up, prepare LibreOffice help en-de, train the CPU teacher, then two students of one size
# (a baseline on gold data and a word-level KD student taught from the teacher's cached top-8), and evaluate all
# of them greedy and with beam 5.
#
#   bash scripts/demo.sh
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing. Outputs: work/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${TEACHER_PRESET:=cpu-demo}"
: "${STUDENTS:=1}"   # STUDENTS=0: stop after the teacher (about 13 minutes instead of 28)
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

MODELS="$WORK/models"
RESULTS="$WORK/results"
mkdir -p "$MODELS"

# train NAME SCRIPT ARGS...: run a training script once (an interrupted run resumes from checkpoint_last.pt),
# then evaluate the model greedy and with beam 5 on the held-out smath module.
train_and_evaluate() {
  local name=$1; shift
  if [ ! -f "$MODELS/$name/.done" ]; then
    stamp "$name: training; log: $MODELS/$name.log"
    bash "$@" > "$MODELS/$name.log" 2>&1 || { tail -20 "$MODELS/$name.log"; exit 1; }
    touch "$MODELS/$name/.done"
  fi
  if [ ! -f "$RESULTS/$name.test.beam5.json" ]; then
    stamp "$name: evaluating greedy and beam 5"
    bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$name/checkpoint_best.pt" "$name" "$RESULTS" > /dev/null
  fi
}

train_and_evaluate teacher "$ROOT/scripts/train-teacher.sh" "$TEACHER_PRESET" "$DATA" "$MODELS/teacher"
if [ "$STUDENTS" = 0 ]; then
  stamp "done (STUDENTS=0: no students)"
  kdseq-report "$RESULTS"/teacher.test.beam{1,5}.json
  exit 0
fi
train_and_evaluate student-baseline "$ROOT/scripts/train-student.sh" cpu-demo baseline "$DATA" \
  "$MODELS/student-baseline"
# Word-KD from the offline cache: one teacher pass over train and valid (top-8 per token), then the student
# trains at the baseline's speed (the online teacher would run on every batch: twice the time on 2 cores).
CACHE="$MODELS/teacher/cache-top8"
if [ ! -f "$CACHE/valid.json" ]; then
  stamp "teacher cache: top-8 distributions of train and valid -> $CACHE"
  kdseq-cache-teacher "$DATA" --teacher-path "$MODELS/teacher/checkpoint_best.pt" --splits train,valid --topk 8 \
    --out-dir "$CACHE" > /dev/null
fi
train_and_evaluate student-word-kd "$ROOT/scripts/train-student.sh" cpu-demo word-kd "$DATA" \
  "$MODELS/student-word-kd" - --teacher-cache "$CACHE"

stamp "done"
kdseq-report "$RESULTS"/teacher.test.beam{1,5}.json "$RESULTS"/student-baseline.test.beam{1,5}.json \
  "$RESULTS"/student-word-kd.test.beam{1,5}.json
echo
echo "outputs: data $DATA, models $MODELS, hypotheses and JSON results $RESULTS"
