#!/usr/bin/env bash
# The zero-shot headline recipe at GPU scale in one command, on a bare GPU machine without network:
#
#   bash scripts/gpu-headline.sh OUT    # PACK=.gpu made by HEADLINES=1 scripts/gpu-pack.sh on a machine with network
#
# 1. installs what the machine lacks from PACK/wheels (scripts/gpu-env.sh); kdseq runs from this checkout;
# 2. unpacks PACK/headlines/tsv.tar.xz (the extracted corpora) and runs scripts/demo-headline.sh on every training
#    row (HL_ROWS=0): teacher-mt at gpu-base (transformer base, pre-norm, fp16), the headline teachers and the
#    students started from it, the compressed student at gpu-small; every training stops after its share of the
#    time (fairseq's --stop-time-hours), the students four at once, so that the whole run fits a budget;
# 3. writes OUT/headline-table.md, OUT/results.tar.gz (JSON results and hypotheses), OUT/logs.tar.gz (training and
#    regeneration logs and records), OUT/headline.log; whatever finished is packed even when the run is late.
#
# Settings: TEACHER_MIN (1.5): teacher-mt's minutes; HL_TEACHER_MIN (0.75): teacher-hl and headline-en, at once;
# STUDENT_MIN (0.75): each student; WORK (/tmp/kdseq-gpu-headline); BUDGET_S (575): the recipe is stopped 30 s
# before it (3600 with GPU_SMOKE=1). The defaults fit one 10-minute command on an H100/H200.
# GPU_SMOKE=1 on a machine without a GPU: the same code path with the CPU presets, a few updates and 2,000 rows a
# corpus.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 1; }
OUT=$1
: "${PACK:=$ROOT/.gpu}"
: "${WORK:=/tmp/kdseq-gpu-headline}"
: "${TEACHER_MIN:=1.5}"
: "${HL_TEACHER_MIN:=0.75}"
: "${STUDENT_MIN:=0.75}"
: "${GPU_SMOKE:=0}"
: "${BUDGET_S:=$( [ "$GPU_SMOKE" = 1 ] && echo 3600 || echo 575 )}"
: "${PYTHON:=$(command -v python3)}"
export PYTHON WORK
start=$(date +%s)
stamp() { echo "[gpu-headline] $(( $(date +%s) - start ))s: $*"; }
[ -f "$PACK/headlines/tsv.tar.xz" ] \
  || { echo "error: $PACK has no headlines/tsv.tar.xz: make it with HEADLINES=1 scripts/gpu-pack.sh" >&2; exit 1; }
if [ -e "$WORK" ] && [ ! -f "$WORK/.kdseq-gpu-headline" ]; then
  echo "error: WORK=$WORK exists and is not this command's work folder: give another WORK" >&2; exit 1
fi
mkdir -p "$OUT" "$WORK"
touch "$WORK/.kdseq-gpu-headline"

# shellcheck source=gpu-env.sh
source "$ROOT/scripts/gpu-env.sh"

stamp "unpacking the headline corpora"
[ -f "$WORK/tsv/extract.json" ] || tar xJf "$PACK/headlines/tsv.tar.xz" -C "$WORK"

RUN=(HL_ROWS=0 TEACHER_PRESET=gpu-base STUDENT_PRESET=gpu-small)
if [ "$GPU_SMOKE" = 1 ]; then
  # the CPU presets: gpu-base models decode the test sets for minutes on a CPU
  RUN=(HL_ROWS=2000 TEACHER_PRESET=cpu-demo STUDENT_PRESET=cpu-demo TEACHER_UPDATES=6 HL_TEACHER_UPDATES=4
       STUDENT_UPDATES=4 SMALL_STUDENT_UPDATES=4 "TEACHER_EXTRA=--max-tokens 2048" "HL_TEACHER_EXTRA=--max-tokens 2048"
       "STUDENT_EXTRA=--max-tokens 2048"
       # a teacher of 6 updates writes garbage: keep the original pairs so that the students have data
       "REGEN_EXTRA=--keep-original --max-repeats 0")
else
  # Large batches, pre-norm with a short warm-up (the students keep their recipe's learning rate); stop by time,
  # validate and save once at the end (the update counts are never reached).
  T="--max-tokens 16384 --lr 1e-3 --encoder-normalize-before --decoder-normalize-before --warmup-updates 500"
  RUN+=(TEACHER_UPDATES=100000 HL_TEACHER_UPDATES=100000 STUDENT_UPDATES=100000 SMALL_STUDENT_UPDATES=100000
        "TEACHER_EXTRA=$T --stop-time-hours $(hours "$TEACHER_MIN")"
        "HL_TEACHER_EXTRA=--max-tokens 16384 --lr 5e-4 --warmup-updates 200 --stop-time-hours $(hours "$HL_TEACHER_MIN")"
        "STUDENT_EXTRA=--max-tokens 16384 --stop-time-hours $(hours "$STUDENT_MIN")")
fi
status=0
run_s=$(( BUDGET_S - 30 - ($(date +%s) - start) )); [ "$run_s" -gt 0 ] || run_s=1
env "${RUN[@]}" KEEP_GOING=1 KDSEQ_SETUP=0 HL_TSV="$WORK/tsv" timeout "$run_s" bash "$ROOT/scripts/demo-headline.sh" \
  --config checks=warn 2>&1 | tee "$OUT/headline.log" || status=1
HL="$WORK/headlines"
[ -f "$HL/results/headline-table.md" ] && cp "$HL/results/headline-table.md" "$OUT/"
[ -d "$HL/results" ] && tar czf "$OUT/results.tar.gz" -C "$HL" results
if [ -d "$HL/logs" ]; then
  (cd "$HL" && find logs models -maxdepth 2 \( -name '*.log' -o -name '*.json' \) -print0 | tar czf "$OUT/logs.tar.gz" --null -T -)
fi
[ $status = 0 ] || { stamp "the recipe failed or ran out of its $run_s s: see $OUT/headline.log"; exit 1; }
stamp "done: $OUT"
