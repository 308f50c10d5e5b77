#!/usr/bin/env bash
# The main job: set up, prepare LibreOffice help en-de, train the CPU teacher, then four students of one size
# and evaluate every model greedy and with beam 5 on the held-out smath module:
#   baseline   gold data, label-smoothed cross-entropy
#   word-kd    word-level KD from the teacher's cached top-8 distributions (Kim & Rush 2016 word-KD)
#   seq-kd     gold sources with the teacher's beam-5 translations (Kim & Rush 2016 seq-KD)
#   seq-inter  the teacher's 5-best hypothesis closest to the reference by sentence BLEU (seq-inter)
# and each student once more greedy in CTranslate2 int8, as it would be deployed.
#
#   bash scripts/demo.sh
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing; a model trained with
# other settings is refused, not reused. Outputs: work/. TEACHER_UPDATES=2000 STUDENT_UPDATES=800 is the larger
# demo of 2026-11-24.
# On 2+ cores the students train two at a time, one core each (1.25x the throughput of one at a time on two).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${TEACHER_PRESET:=cpu-demo}"   # gpu-base with STUDENT_PRESET=gpu-small: the same recipe at GPU scale
: "${STUDENT_PRESET:=cpu-demo}"
: "${TEACHER_UPDATES:=}"          # empty: 1200 for cpu-demo (the demo fits 30 minutes), the preset's otherwise
: "${STUDENT_UPDATES:=}"          # empty: 500 for cpu-demo, the preset's otherwise
: "${STUDENTS:=1}"   # STUDENTS=0: stop after the teacher
: "${PARALLEL:=$( [ "$(nproc)" -ge 2 ] && [ "$STUDENT_PRESET" = cpu-demo ] && echo 1 || echo 0)}"
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

# train NAME SCRIPT ARGS...: run a training script once (an interrupted run resumes from checkpoint_last.pt). The
# finished model records its command; a rerun with other settings (e.g. TEACHER_UPDATES) stops instead of
# silently reusing the old model.
train() {
  local name=$1; shift
  local want="$*"
  if [ -f "$MODELS/$name/.done" ]; then
    if [ "$(cat "$MODELS/$name/.done")" != "$want" ]; then
      echo "[demo] error: $MODELS/$name was trained by another command than this run's ($want); remove that" \
           "folder to retrain it, or give another WORK=..." >&2
      exit 1
    fi
  else
    stamp "$name: training; log: $MODELS/$name.log"
    bash "$@" > "$MODELS/$name.log" 2>&1 || { tail -20 "$MODELS/$name.log"; return 1; }
    echo "$want" > "$MODELS/$name/.done"
  fi
}

# evaluate NAME: greedy and beam 5 on the held-out smath module, on every core (speeds are comparable).
evaluate() {
  if [ ! -f "$RESULTS/$1.test.beam5.json" ]; then
    stamp "$1: evaluating greedy and beam 5"
    bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1" "$RESULTS" > /dev/null
  fi
}

# evaluate_deployed NAME: greedy in CTranslate2 int8, how a student would ship (the conversion is cached).
evaluate_deployed() {
  if [ ! -f "$RESULTS/$1-ct2-int8.test.beam1.json" ]; then
    stamp "$1: evaluating greedy in CTranslate2 int8"
    BEAMS=1 bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1-ct2-int8" "$RESULTS" \
      --backend ctranslate2 --compute-type int8 > /dev/null
  fi
}

# side_by_side JOB1 JOB2: two student trainings at once, one core each (PARALLEL=1), or one after the other.
side_by_side() {
  if [ "$PARALLEL" = 1 ]; then
    local fail=0
    OMP_NUM_THREADS=1 "$1" & local p1=$!
    OMP_NUM_THREADS=1 "$2" & local p2=$!
    wait $p1 || fail=1
    wait $p2 || fail=1
    [ $fail = 0 ] || { stamp "a student job failed (logs: $MODELS/*.log)"; exit 1; }
  else
    "$1"; "$2"
  fi
}

T_UPDATES=()
if [ -n "$TEACHER_UPDATES" ]; then T_UPDATES=(--max-update "$TEACHER_UPDATES")
elif [ "$TEACHER_PRESET" = cpu-demo ]; then T_UPDATES=(--max-update 1200 --validate-interval-updates 600 --save-interval-updates 600); fi
train teacher "$ROOT/scripts/train-teacher.sh" "$TEACHER_PRESET" "$DATA" "$MODELS/teacher" ${T_UPDATES[@]+"${T_UPDATES[@]}"}
evaluate teacher
if [ "$STUDENTS" = 0 ]; then
  stamp "done (STUDENTS=0: no students)"
  kdseq-report "$RESULTS"/teacher.test.beam{1,5}.json
  exit 0
fi
TEACHER="$MODELS/teacher/checkpoint_best.pt"

# Sequence-level KD: the teacher translates the training sources once (beam 5, 5-best, CTranslate2);
# best/ keeps its top hypothesis (seq-KD), bleu/ the one closest to the reference (seq-inter).
REGEN="$MODELS/teacher/regenerated"
if [ ! -f "$REGEN/bleu/regenerate.json" ]; then
  stamp "teacher regenerates the training corpus (beam 5, 5-best) -> $REGEN"
  bash "$ROOT/scripts/regenerate.sh" "$DATA" "$TEACHER" "$REGEN" --no-progress > "$MODELS/regenerate.json"
fi
# Word-KD from the offline cache: one teacher pass over train and valid (top-8 per token), then the student
# trains at the baseline's speed (the online teacher would run on every batch: twice the time on 2 cores).
CACHE="$MODELS/teacher/cache-top8"
if [ ! -f "$CACHE/valid/meta.json" ]; then
  stamp "teacher cache: top-8 distributions of train and valid -> $CACHE"
  kdseq-cache-teacher "$DATA" --teacher-path "$TEACHER" --splits train,valid --topk 8 --out-dir "$CACHE" > /dev/null
fi

UPDATES=()
if [ -n "$STUDENT_UPDATES" ]; then UPDATES=(--max-update "$STUDENT_UPDATES")
elif [ "$STUDENT_PRESET" = cpu-demo ]; then UPDATES=(--max-update 500 --validate-interval-updates 250 --save-interval-updates 250); fi
student() {  # student NAME METHOD DATA [args...]
  local name=$1 method=$2 data=$3; shift 3
  train "student-$name" "$ROOT/scripts/train-student.sh" "$STUDENT_PRESET" "$method" "$data" \
    "$MODELS/student-$name" "$@" ${UPDATES[@]+"${UPDATES[@]}"}
}
job_baseline() { student baseline baseline "$DATA"; }
job_word_kd() { student word-kd word-kd "$DATA" - --teacher-cache "$CACHE"; }
job_seq_kd() { student seq-kd seq-kd "$REGEN/best/bin"; }
job_seq_inter() { student seq-inter seq-kd "$REGEN/bleu/bin"; }
side_by_side job_baseline job_word_kd
side_by_side job_seq_kd job_seq_inter
for name in baseline word-kd seq-kd seq-inter; do evaluate "student-$name"; done
for name in baseline word-kd seq-kd seq-inter; do evaluate_deployed "student-$name"; done

stamp "done"
kdseq-report "$RESULTS"/teacher.test.beam{1,5}.json "$RESULTS"/student-{baseline,word-kd,seq-kd,seq-inter}.test.beam{1,5}.json \
  "$RESULTS"/student-{baseline,word-kd,seq-kd,seq-inter}-ct2-int8.test.beam1.json --plot "$RESULTS/bleu-vs-speed.png" \
  | tee "$RESULTS/demo-table.md"
echo
echo "outputs: data $DATA, models $MODELS, regenerated corpora $REGEN, hypotheses and JSON results $RESULTS,"
echo "BLEU against speed: $RESULTS/bleu-vs-speed.png"
