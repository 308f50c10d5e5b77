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
#   CORPUS=my.tsv SRC=en TGT=fr bash scripts/demo.sh     # the same recipe on your corpus (below)
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing; a model trained with
# other settings is refused, not reused. Outputs: work/ (WORK=...). TEACHER_UPDATES=2000 STUDENT_UPDATES=800 is
# the larger demo of 2026-11-24.
#
# Inputs (one of):
#   default          LibreOffice help en-de, downloaded and prepared by data-prep/libreoffice.sh
#   CORPUS=FILE SRC=L1 TGT=L2
#                    your parallel corpus (FILE.tsv "source<TAB>target", or a prefix with FILE.L1/FILE.L2);
#                    kdseq-prepare splits VALID_SIZE and TEST_SIZE pairs (default 1000 each) off it by distinct
#                    source, with a VOCAB_SIZE joint sentencepiece model (default 8000); outputs in
#                    $WORK/corpus-<name>/
#   DATA=DIR         a folder kdseq-prepare made before (its <out>/bin)
# Settings: TEACHER_PRESET/STUDENT_PRESET (cpu-demo | gpu-base/gpu-small), TEACHER_EXTRA/STUDENT_EXTRA (more
# fairseq-train arguments, e.g. "--stop-time-hours 0.05"), REGEN_EXTRA (more kdseq-regenerate arguments), JOBS (students trained at once: 2 on 2+ CPU cores,
# one core each, 1.25x the throughput of one at a time; 4 on a GPU), KDSEQ_SETUP=0 (use the Python environment
# already active instead of creating .venv, e.g. on a GPU machine with no network: scripts/gpu-reproduce.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_SETUP:=1}"
: "${TEACHER_PRESET:=cpu-demo}"   # gpu-base with STUDENT_PRESET=gpu-small: the same recipe at GPU scale
: "${STUDENT_PRESET:=cpu-demo}"
: "${TEACHER_UPDATES:=}"          # empty: 1200 for cpu-demo (the demo fits 30 minutes), the preset's otherwise
: "${STUDENT_UPDATES:=}"          # empty: 500 for cpu-demo, the preset's otherwise
: "${TEACHER_EXTRA:=}"
: "${STUDENT_EXTRA:=}"
: "${REGEN_EXTRA:=}"
: "${KEEP_GOING:=0}"   # 1: a failed student does not stop the others' evaluation (the demo still exits 1)
FAILED=0
: "${STUDENTS:=1}"   # STUDENTS=0: stop after the teacher
: "${CORPUS:=}"
: "${DATA:=}"
export WORK
start=$(date +%s)
stamp() { echo "[demo] $(( $(date +%s) - start ))s: $*"; }
die() { echo "[demo] error: $*" >&2; exit 1; }

# shellcheck source=demo-env.sh
source "$ROOT/scripts/demo-env.sh"

if [ -n "$DATA" ]; then
  [ -z "$CORPUS" ] || die "give CORPUS=... or DATA=..., not both"
  check_data "$DATA"
  DATA="$(cd "$DATA" && pwd)"
  stamp "data: $DATA (prepared before)"
elif [ -n "$CORPUS" ]; then
  [ -n "${SRC:-}" ] && [ -n "${TGT:-}" ] || die "CORPUS=$CORPUS needs SRC=... and TGT=... (language codes, e.g. SRC=en TGT=fr)"
  name=$(basename "$CORPUS"); name=${name%.tsv}
  stamp "data: $CORPUS ($SRC-$TGT) -> $WORK/corpus-$name/data"
  # kdseq-prepare records its inputs and settings: a rerun with the same ones reuses the folder, another corpus
  # or setting under the same name is refused (it names the difference).
  kdseq-prepare --train "$CORPUS" --src-lang "$SRC" --tgt-lang "$TGT" --out-dir "$WORK/corpus-$name/data" \
    --valid-size "${VALID_SIZE:-1000}" --test-size "${TEST_SIZE:-1000}" --vocab-size "${VOCAB_SIZE:-8000}" \
    --workers "$(nproc)"
  DATA="$WORK/corpus-$name/data/bin"
else
  stamp "data: LibreOffice help en-de"
  bash "$ROOT/data-prep/libreoffice.sh" de
  DATA="$WORK/libreoffice-en-de/data/bin"
fi

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
    local have; have=$(cat "$MODELS/$name/.done")
    # compared without the checkout's path, so that a moved or re-cloned checkout reuses its models
    if [ "${have#*scripts/}" != "${want#*scripts/}" ]; then
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
  [ -f "$MODELS/$1/.done" ] || { stamp "$1: no model (KEEP_GOING=1), not evaluated"; return 0; }
  if [ ! -f "$RESULTS/$1.test.beam5.json" ]; then
    stamp "$1: evaluating greedy and beam 5"
    bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1" "$RESULTS" > /dev/null
  fi
}

# evaluate_deployed NAME: greedy in CTranslate2 int8, how a student would ship (the conversion is cached).
evaluate_deployed() {
  [ -f "$MODELS/$1/.done" ] || return 0
  if [ ! -f "$RESULTS/$1-ct2-int8.test.beam1.json" ]; then
    stamp "$1: evaluating greedy in CTranslate2 int8"
    BEAMS=1 bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1-ct2-int8" "$RESULTS" \
      --backend ctranslate2 --compute-type int8 > /dev/null
  fi
}

# run_jobs JOB...: student trainings, JOBS at once (on CPU each gets its share of the cores), or one at a time.
run_jobs() {
  if [ "$JOBS" = 1 ]; then
    local job; for job in "$@"; do "$job"; done
    return
  fi
  local threads=$(( $(nproc) / JOBS )) fail=0 pids=() job pid
  [ "$threads" -ge 1 ] || threads=1
  for job in "$@"; do
    OMP_NUM_THREADS=$threads "$job" & pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then
      for pid in "${pids[@]}"; do wait "$pid" || fail=1; done
      pids=()
    fi
  done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" || fail=1; done
  if [ $fail = 1 ]; then
    stamp "a student job failed (logs: $MODELS/*.log)"
    [ "$KEEP_GOING" = 1 ] || exit 1
    FAILED=1
  fi
}

T_UPDATES=()
if [ -n "$TEACHER_UPDATES" ]; then T_UPDATES=(--max-update "$TEACHER_UPDATES")
elif [ "$TEACHER_PRESET" = cpu-demo ]; then T_UPDATES=(--max-update 1200 --validate-interval-updates 600 --save-interval-updates 600); fi
# shellcheck disable=SC2206  # TEACHER_EXTRA/STUDENT_EXTRA are word-split on purpose
T_UPDATES+=($TEACHER_EXTRA)
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
# shellcheck disable=SC2206
REGEN_ARGS=(--no-progress $REGEN_EXTRA)
if [ -f "$REGEN/bleu/regenerate.json" ] && [ "$(cat "$REGEN/.demo-args" 2> /dev/null || echo --no-progress)" != "${REGEN_ARGS[*]}" ]; then
  die "$REGEN was made with other arguments ($(cat "$REGEN/.demo-args" 2> /dev/null)) than this run's (${REGEN_ARGS[*]}): remove it to redo it"
fi
if [ ! -f "$REGEN/bleu/regenerate.json" ]; then
  stamp "teacher regenerates the training corpus (beam 5, 5-best) -> $REGEN"
  bash "$ROOT/scripts/regenerate.sh" "$DATA" "$TEACHER" "$REGEN" "${REGEN_ARGS[@]}" > "$MODELS/regenerate.json"
  echo "${REGEN_ARGS[*]}" > "$REGEN/.demo-args"
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
# shellcheck disable=SC2206
UPDATES+=($STUDENT_EXTRA)
student() {  # student NAME METHOD DATA [args...]
  local name=$1 method=$2 data=$3; shift 3
  train "student-$name" "$ROOT/scripts/train-student.sh" "$STUDENT_PRESET" "$method" "$data" \
    "$MODELS/student-$name" "$@" ${UPDATES[@]+"${UPDATES[@]}"}
}
job_baseline() { student baseline baseline "$DATA"; }
job_word_kd() { student word-kd word-kd "$DATA" - --teacher-cache "$CACHE"; }
job_seq_kd() { student seq-kd seq-kd "$REGEN/best/bin"; }
job_seq_inter() { student seq-inter seq-kd "$REGEN/bleu/bin"; }
run_jobs job_baseline job_word_kd job_seq_kd job_seq_inter
for name in baseline word-kd seq-kd seq-inter; do evaluate "student-$name"; done
for name in baseline word-kd seq-kd seq-inter; do evaluate_deployed "student-$name"; done

stamp "done"
tables=()
for name in teacher student-{baseline,word-kd,seq-kd,seq-inter}; do
  for f in "$RESULTS/$name".test.beam{1,5}.json "$RESULTS/$name"-ct2-int8.test.beam1.json; do
    [ -f "$f" ] && tables+=("$f")
  done
done
kdseq-report "${tables[@]}" --plot "$RESULTS/bleu-vs-speed.png" | tee "$RESULTS/demo-table.md"
echo
echo "outputs: data $DATA, models $MODELS, regenerated corpora $REGEN, hypotheses and JSON results $RESULTS,"
echo "BLEU against speed: $RESULTS/bleu-vs-speed.png"
[ "$FAILED" = 0 ] || { stamp "some students failed (KEEP_GOING=1): see $MODELS/*.log"; exit 1; }
