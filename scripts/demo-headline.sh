#!/usr/bin/env bash
# Zero-shot cross-lingual headline generation (Ayana et al. 2018): set up, then run the headline recipe
# (config/headlines.yaml) as a Snakemake workflow on this machine: students that read an English text and write a
# Chinese headline, trained with no (English text, Chinese headline) pair, against pipelines of the same models.
# The models and rows: config/headlines.yaml and docs/headlines.md.
#
#   bash scripts/demo-headline.sh                # CPU, 2 cores; outputs in work/headlines/
#   bash scripts/demo-headline.sh --configfile config/headlines-long.yaml   # every row, 2.5 times the updates:
#                                                # 1.5-2.1 hours on 2 cores; outputs in work/headlines-long/
#   bash scripts/demo-headline.sh --config union=True student_updates=600  # any key of config/headlines.yaml
# Arguments are Snakemake's (-n: the plan; --profile profiles/slurm: on a Slurm cluster). A rerun runs only what is
# missing or what a changed setting touches. The table: work/headlines/results/headline-table.md.
#
# The environment's settings of earlier versions still work (the command line's --config overrides them):
#   HL_SCALE=long (config/headlines-long.yaml), HL_ROWS (rows), TEACHER_UPDATES, HL_TEACHER_UPDATES, STUDENT_UPDATES,
#   SMALL_STUDENT_UPDATES, INIT_LR, HL_SOURCE_MAX (source_max), HEADLINE_MAX, VOCAB_SIZE, UNION=1 (union),
#   REGEN_EXTRA, TEACHER_PRESET/STUDENT_PRESET, TEACHER_EXTRA/HL_TEACHER_EXTRA/STUDENT_EXTRA, HL_TSV (tsv),
#   VALID_MODULES/TEST_MODULES, KEEP_GOING=1 (--keep-going), KDSEQ_SETUP=0 (use the active Python environment)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_SETUP:=1}"
: "${HL_SCALE:=short}"
export WORK
start=$(date +%s)
stamp() { echo "[headline] $(( $(date +%s) - start ))s: $*"; }
die() { echo "[headline] error: $*" >&2; exit 1; }

FILES=("$ROOT/config/headlines.yaml")
case "$HL_SCALE" in
  short) ;;
  long) FILES+=("$ROOT/config/headlines-long.yaml") ;;
  *) die "HL_SCALE=$HL_SCALE: give short (about 45 minutes on 2 cores) or long" ;;
esac

# shellcheck source=demo-env.sh
source "$ROOT/scripts/demo-env.sh"

setting rows "${HL_ROWS:-}"
setting teacher_updates "${TEACHER_UPDATES:-}"
setting hl_teacher_updates "${HL_TEACHER_UPDATES:-}"
setting student_updates "${STUDENT_UPDATES:-}"
setting small_student_updates "${SMALL_STUDENT_UPDATES:-}"
setting init_lr "${INIT_LR:-}"
setting source_max "${HL_SOURCE_MAX:-}"
setting headline_max "${HEADLINE_MAX:-}"
setting vocab_size "${VOCAB_SIZE:-}"
[ "${UNION:-0}" != 1 ] || setting union True
setting regen_extra "${REGEN_EXTRA:-}"
setting teacher_preset "${TEACHER_PRESET:-}"
setting student_preset "${STUDENT_PRESET:-}"
setting teacher_extra "${TEACHER_EXTRA:-}"
setting hl_teacher_extra "${HL_TEACHER_EXTRA:-}"
setting student_extra "${STUDENT_EXTRA:-}"
if [ -n "${HL_TSV:-}" ]; then setting tsv "$(cd "$HL_TSV" && pwd)"; fi
setting valid_modules "${VALID_MODULES:-}"
setting test_modules "${TEST_MODULES:-}"
ARGS=()
[ "${KEEP_GOING:-0}" != 1 ] || ARGS+=(--keep-going)
if [ "$DEVICE" = cuda ]; then setting gpus 1; ARGS+=(--resources "gpu=${JOBS:-4}"); fi

run_workflow "${FILES[@]}" -- ${ARGS[@]+"${ARGS[@]}"} "$@"
