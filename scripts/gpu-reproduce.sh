#!/usr/bin/env bash
# The demo recipe at GPU scale in one command, on a bare GPU machine without network:
#
#   bash scripts/gpu-reproduce.sh OUT        # PACK=.gpu made by scripts/gpu-pack.sh on a machine with network
#
# 1. installs what the machine lacks from PACK/wheels (into /tmp/kdseq-site); kdseq runs from this checkout;
# 2. runs scripts/demo.sh on PACK/data (LibreOffice en-de) with TEACHER_PRESET=gpu-base (transformer base,
#    fp16) and STUDENT_PRESET=gpu-small, the four students trained at once on the one GPU; every training
#    stops after its share of the time (fairseq's --stop-time-hours), so the whole run fits a budget;
# 3. benchmarks the teacher's regeneration against fairseq-generate at its best batching, if time is left;
# 4. writes OUT/table.md, OUT/results.tar.gz (JSON results, hypotheses, the plot), OUT/logs.tar.gz,
#    OUT/regenerate-bench.txt, OUT/bleu-vs-speed.png.
#
# Settings: TEACHER_MIN (default 2) and STUDENT_MIN (1.25): training minutes; WORK (default
# /tmp/kdseq-gpu-work); BENCH_SENTENCES (4000); BUDGET_S (575): the benchmark runs only if it can end before.
# The defaults fit one 10-minute command on an H100/H200 (a 10-minute command limit).
# GPU_SMOKE=1 on a machine without a GPU: the same code path with a few updates (how it is tested).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 1; }
OUT=$1
: "${PACK:=$ROOT/.gpu}"
: "${WORK:=/tmp/kdseq-gpu-work}"
: "${TEACHER_MIN:=2}"
: "${STUDENT_MIN:=1.25}"
: "${BENCH_SENTENCES:=4000}"
: "${BUDGET_S:=575}"
: "${GPU_SMOKE:=0}"
: "${PYTHON:=$(command -v python3)}"
export PYTHON WORK
start=$(date +%s)
stamp() { echo "[gpu-reproduce] $(( $(date +%s) - start ))s: $*"; }
[ -d "$PACK/data/bin" ] || { echo "error: $PACK has no data/bin: make it with scripts/gpu-pack.sh" >&2; exit 1; }
mkdir -p "$OUT"

# shellcheck source=gpu-env.sh
source "$ROOT/scripts/gpu-env.sh"

if [ "$GPU_SMOKE" = 1 ]; then
  # a teacher of 6 updates writes garbage: keep the original pairs so that the seq-KD students have data
  T_EXTRA="--max-update 6 --max-tokens 2048"; S_EXTRA="--max-update 4 --max-tokens 2048"; R_EXTRA="--keep-original"
else
  # Sized for one GPU and minutes: large batches, pre-norm with a short warm-up; stop by time, validate and save
  # once at the end.
  T_EXTRA="--max-update 100000 --stop-time-hours $(hours "$TEACHER_MIN") --max-tokens 16384 --lr 1e-3
    --encoder-normalize-before --decoder-normalize-before
    --warmup-updates 500 --validate-interval-updates 100000 --save-interval-updates 100000 --validate-interval 1000
    --save-interval 1000"
  S_EXTRA="--max-update 100000 --stop-time-hours $(hours "$STUDENT_MIN") --max-tokens 16384 --lr 2e-3
    --encoder-normalize-before --decoder-normalize-before
    --warmup-updates 500 --validate-interval-updates 100000 --save-interval-updates 100000 --validate-interval 1000
    --save-interval 1000"
  R_EXTRA=""
fi
status=0
# The demo gets the budget less 30 s, so that whatever it finished is packed into OUT even if it runs late.
demo_s=$(( BUDGET_S - 30 - ($(date +%s) - start) )); [ "$demo_s" -gt 0 ] || demo_s=1
KEEP_GOING=1 KDSEQ_SETUP=0 DATA="$PACK/data/bin" OUTS="$WORK" TEACHER_PRESET=gpu-base STUDENT_PRESET=gpu-small TEACHER_EXTRA="$T_EXTRA" \
  STUDENT_EXTRA="$S_EXTRA" REGEN_EXTRA="$R_EXTRA" timeout "$demo_s" bash "$ROOT/scripts/demo.sh" --config checks=warn 2>&1 \
  | tee "$OUT/demo.log" || status=1
RESULTS="$WORK/results"
MODELS="$WORK/models"
[ -f "$RESULTS/demo-table.md" ] && cp "$RESULTS/demo-table.md" "$OUT/table.md"
[ -f "$RESULTS/bleu-vs-speed.png" ] && cp "$RESULTS/bleu-vs-speed.png" "$OUT/"
[ -d "$RESULTS" ] && tar czf "$OUT/results.tar.gz" -C "$WORK" results
[ -d "$WORK/logs" ] && tar czf "$OUT/logs.tar.gz" -C "$WORK" logs $(cd "$WORK" && ls models/*.json 2> /dev/null)
[ $status = 0 ] || { stamp "the demo failed or ran out of its $demo_s s: see $OUT/demo.log"; exit 1; }

left=$(( BUDGET_S - ($(date +%s) - start) ))
if [ "$GPU_SMOKE" = 1 ]; then BENCH=(--sentences 200 --repeats 1 --max-tokens 4096); else BENCH=(--sentences "$BENCH_SENTENCES" --repeats 1 --max-tokens 16384,32768); fi
if [ "$left" -gt 90 ]; then
  stamp "regeneration benchmark ($left s left)"
  timeout $(( left - 5 )) "$PYTHON" "$ROOT/benchmarks/regenerate_speed.py" --data "$PACK/data/bin" \
    --teacher "$MODELS/teacher/checkpoint_best.pt" "${BENCH[@]}" --json "$OUT/regenerate-bench.json" \
    2>&1 | tee "$OUT/regenerate-bench.txt" || stamp "the benchmark did not finish in the time left"
else
  stamp "no time left for the regeneration benchmark ($left s)"
fi
stamp "done: $OUT"
