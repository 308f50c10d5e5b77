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
#                    source, with a VOCAB_SIZE joint sentencepiece model (default 8000); data, models and
#                    results in $WORK/corpus-<name>/
#   DATA=DIR         a folder kdseq-prepare made before (its <out>/bin); models and results in
#                    $WORK/data-<name of its parent folder>/
# Settings:
#   TEACHER_PRESET/STUDENT_PRESET   cpu-demo | gpu-base/gpu-small
#   TEACHER_UPDATES/STUDENT_UPDATES 1200/500 for cpu-demo, the preset's otherwise
#   TEACHER_EXTRA/STUDENT_EXTRA     more fairseq-train arguments, e.g. "--stop-time-hours 0.05"
#   REGEN_EXTRA                     more kdseq-regenerate arguments
#   JOBS                            students trained at once: 2 on 2+ CPU cores (one core each, 1.25x the
#                                   throughput of one at a time); 4 on a GPU
#   KEEP_GOING=1                    a failed student does not stop the others (the demo still exits 1)
#   OUTS=DIR                        models and results there instead of beside the data
#   STUDENTS=0                      stop after the teacher
#   ONPOLICY=1                      two more students: the seq-KD student continued ONPOLICY_UPDATES (250) updates
#                                   on its own samples scored by the teacher (GKD: --kd-on-policy 1, JSD at beta
#                                   0.1), and the same student continued as long on the seq-KD corpus
#   KDSEQ_SETUP=0                   use the active Python environment instead of creating .venv (e.g. on a GPU
#                                   machine with no network: scripts/gpu-reproduce.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_SETUP:=1}"
: "${TEACHER_PRESET:=cpu-demo}"   # gpu-base with STUDENT_PRESET=gpu-small: the same recipe at GPU scale
: "${STUDENT_PRESET:=cpu-demo}"
: "${TEACHER_UPDATES:=}"          # empty: 1200 for cpu-demo, the preset's otherwise
: "${STUDENT_UPDATES:=}"          # empty: 500 for cpu-demo, the preset's otherwise
: "${TEACHER_EXTRA:=}"
: "${STUDENT_EXTRA:=}"
: "${REGEN_EXTRA:=}"
: "${STUDENTS:=1}"   # STUDENTS=0: stop after the teacher
: "${CORPUS:=}"
: "${DATA:=}"
: "${OUTS:=}"
: "${ONPOLICY:=0}"
: "${ONPOLICY_UPDATES:=250}"
: "${ONPOLICY_LR:=1e-3}"          # constant through the continuation, for both continued students
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
  [ -n "${SRC:-}" ] && [ -n "${TGT:-}" ] ||
    die "CORPUS=$CORPUS needs SRC=... and TGT=... (language codes, e.g. SRC=en TGT=fr)"
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

# models and results live beside the data they come from, so that several corpora share one WORK folder (OUTS=...
# puts them elsewhere)
if [ -n "$OUTS" ]; then :
elif [ -n "$CORPUS" ]; then OUTS="$WORK/corpus-$name"
elif [ "$DATA" = "$WORK/libreoffice-en-de/data/bin" ]; then OUTS="$WORK"
else OUTS="$WORK/data-$(basename "$(dirname "$DATA")")"; fi
MODELS="$OUTS/models"
RESULTS="$OUTS/results"
mkdir -p "$MODELS"

# evaluate NAME: greedy and beam 5 on the held-out smath module, on every core (speeds are comparable).
evaluate() {
  [ -f "$MODELS/$1/kdseq-stage.json" ] || { stamp "$1: no model (KEEP_GOING=1), not evaluated"; return 0; }
  if [ ! -f "$RESULTS/$1.test.beam5.json" ]; then
    stamp "$1: evaluating greedy and beam 5"
    bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1" "$RESULTS" > /dev/null
  fi
}

# evaluate_deployed NAME: greedy in CTranslate2 int8, how a student would ship (the conversion is cached).
evaluate_deployed() {
  [ -f "$MODELS/$1/kdseq-stage.json" ] || return 0
  if [ ! -f "$RESULTS/$1-ct2-int8.test.beam1.json" ]; then
    stamp "$1: evaluating greedy in CTranslate2 int8"
    BEAMS=1 bash "$ROOT/scripts/evaluate.sh" "$DATA" "$MODELS/$1/checkpoint_best.pt" "$1-ct2-int8" "$RESULTS" \
      --backend ctranslate2 --compute-type int8 > /dev/null
  fi
}

T_UPDATES=()
if [ -n "$TEACHER_UPDATES" ]; then T_UPDATES=(--max-update "$TEACHER_UPDATES")
elif [ "$TEACHER_PRESET" = cpu-demo ]; then
  T_UPDATES=(--max-update 1200 --validate-interval-updates 600 --save-interval-updates 600)
fi
# shellcheck disable=SC2206  # TEACHER_EXTRA/STUDENT_EXTRA are word-split on purpose
T_UPDATES+=($TEACHER_EXTRA)
train teacher "$ROOT/scripts/train-teacher.sh" "$TEACHER_PRESET" "$DATA" "$MODELS/teacher" \
  ${T_UPDATES[@]+"${T_UPDATES[@]}"}
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
if ! stage_done "$REGEN" "args=${REGEN_ARGS[*]}"; then
  stamp "teacher regenerates the training corpus (beam 5, 5-best) -> $REGEN"
  bash "$ROOT/scripts/regenerate.sh" "$DATA" "$TEACHER" "$REGEN" "${REGEN_ARGS[@]}" > "$MODELS/regenerate.json"
  kdseq-stage record "$REGEN" "args=${REGEN_ARGS[*]}"
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
elif [ "$STUDENT_PRESET" = cpu-demo ]; then
  UPDATES=(--max-update 500 --validate-interval-updates 250 --save-interval-updates 250)
fi
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

# On-policy distillation (ONPOLICY=1): the seq-KD student goes on learning from its own samples, which the teacher
# scores token by token (GKD's recipe: every row sampled, generalized JSD at beta 0.1, no gold loss), against the
# same student given as many more updates on the seq-KD corpus. Both restart their optimiser at a constant rate.
CONTINUED=()
if [ "$ONPOLICY" = 1 ]; then
  [[ "$ONPOLICY_UPDATES" =~ ^[1-9][0-9]*$ ]] || die "ONPOLICY_UPDATES=$ONPOLICY_UPDATES: give a positive number"
  half=$(( (ONPOLICY_UPDATES + 1) / 2 ))
  # --finetune-from-model: the first launch starts from the seq-KD student (optimiser, schedule and data order
  # new); an interrupted one resumes from its own checkpoint_last.pt
  CONT=(--finetune-from-model "$MODELS/student-seq-kd/checkpoint_best.pt" --lr "$ONPOLICY_LR"
        --warmup-init-lr "$ONPOLICY_LR" --warmup-updates 1000000 --max-update "$ONPOLICY_UPDATES" --validate-interval-updates "$half" --save-interval-updates "$half")
  job_on_policy() {
    train student-on-policy "$ROOT/scripts/train-student.sh" "$STUDENT_PRESET" word-kd "$DATA" \
      "$MODELS/student-on-policy" "$TEACHER" --kd-on-policy 1 --kd-divergence jsd --kd-beta 0.1 --kd-alpha 1 \
      "${CONT[@]}"
  }
  job_seq_kd_more() {
    train student-seq-kd-more "$ROOT/scripts/train-student.sh" "$STUDENT_PRESET" seq-kd "$REGEN/best/bin" \
      "$MODELS/student-seq-kd-more" "${CONT[@]}"
  }
  run_jobs job_on_policy job_seq_kd_more
  CONTINUED=(on-policy seq-kd-more)
  for name in "${CONTINUED[@]}"; do evaluate "student-$name"; done
fi

stamp "done"
tables=()
for name in teacher student-{baseline,word-kd,seq-kd,seq-inter} ${CONTINUED[@]+"${CONTINUED[@]/#/student-}"}; do
  for f in "$RESULTS/$name".test.beam{1,5}.json "$RESULTS/$name"-ct2-int8.test.beam1.json; do
    [ -f "$f" ] && tables+=("$f")
  done
done
kdseq-report "${tables[@]}" --plot "$RESULTS/bleu-vs-speed.png" | tee "$RESULTS/demo-table.md"
echo
echo "outputs: data $DATA, models $MODELS, regenerated corpora $REGEN, hypotheses and JSON results $RESULTS,"
echo "BLEU against speed: $RESULTS/bleu-vs-speed.png"
[ "$FAILED" = 0 ] || { stamp "some students failed (KEEP_GOING=1): see $MODELS/*.log"; exit 1; }
