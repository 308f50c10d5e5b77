#!/usr/bin/env bash
# The main job: set up, then run the main recipe (config/demo.yaml) as a Snakemake workflow on this machine:
# prepare LibreOffice help en-de, train the CPU teacher, then four students of one size, and evaluate every model
# greedy and with beam 5 on the held-out smath module:
#   baseline   gold data, label-smoothed cross-entropy
#   word-kd    word-level KD from the teacher's cached top-8 distributions (Kim & Rush 2016 word-KD)
#   seq-kd     gold sources with the teacher's beam-5 translations (Kim & Rush 2016 seq-KD)
#   seq-inter  the teacher's 5-best hypothesis closest to the reference by sentence BLEU (seq-inter)
# and each student once more greedy in CTranslate2 int8, as it would be deployed.
#
#   bash scripts/demo.sh
#   bash scripts/demo.sh --config corpus=my.tsv src=en tgt=fr    # your corpus (or: CORPUS=my.tsv SRC=en TGT=fr)
#   bash scripts/demo.sh --config teacher_updates=2000 student_updates=800     # any key of config/demo.yaml
#   bash scripts/demo.sh --configfile my.yaml      # your settings over config/demo.yaml
#   bash scripts/demo.sh -n                        # the plan: which jobs would run, and why
#   bash scripts/demo.sh --profile profiles/slurm  # every job on a Slurm cluster (docs/scale-out.md)
# Arguments are Snakemake's. A rerun runs only what is missing or what a changed setting, input or rule touches;
# a killed regeneration resumes from its chunks, a killed training from its checkpoint_last.pt. Outputs: the work
# folder, WORK (default work/): models/, results/ (the table: results/demo-table.md), logs/ (one per job).
#
# The environment's settings of earlier versions still work (the command line's --config overrides them):
#   CORPUS=FILE SRC=L1 TGT=L2 (corpus, src, tgt), DATA=DIR (data), OUTS=DIR (outs), VALID_SIZE/TEST_SIZE/VOCAB_SIZE,
#   TEACHER_PRESET/STUDENT_PRESET, TEACHER_UPDATES/STUDENT_UPDATES, TEACHER_EXTRA/STUDENT_EXTRA/REGEN_EXTRA,
#   STUDENTS=0 (students: []), ONPOLICY=1 ONPOLICY_UPDATES=N (onpolicy, onpolicy_updates), KEEP_GOING=1 (a failed
#   job does not stop the others: --keep-going), JOBS=N (students trained at once: student_threads = cores / N),
#   KDSEQ_SETUP=0 (use the active Python environment instead of creating .venv, e.g. on a GPU machine without
#   network: scripts/gpu-reproduce.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WORK:=$ROOT/work}"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_SETUP:=1}"
export WORK
start=$(date +%s)
stamp() { echo "[demo] $(( $(date +%s) - start ))s: $*"; }
die() { echo "[demo] error: $*" >&2; exit 1; }
abs() { [ -z "$1" ] || echo "$(cd "$(dirname "$1")" 2> /dev/null && pwd)/$(basename "$1")"; }

# shellcheck source=demo-env.sh
source "$ROOT/scripts/demo-env.sh"

if [ -n "${CORPUS:-}" ]; then
  [ -n "${SRC:-}" ] && [ -n "${TGT:-}" ] ||
    die "CORPUS=$CORPUS needs SRC=... and TGT=... (language codes, e.g. SRC=en TGT=fr)"
fi
setting corpus "$(abs "${CORPUS:-}")"
setting src "${SRC:-}"
setting tgt "${TGT:-}"
setting data "$(abs "${DATA:-}")"
setting outs "$(abs "${OUTS:-}")"
setting valid_size "${VALID_SIZE:-}"
setting test_size "${TEST_SIZE:-}"
setting vocab_size "${VOCAB_SIZE:-}"
setting teacher_preset "${TEACHER_PRESET:-}"
setting student_preset "${STUDENT_PRESET:-}"
# a GPU preset trains for its own number of updates unless one is given
if [ -n "${TEACHER_UPDATES:-}" ]; then setting teacher_updates "$TEACHER_UPDATES"
elif [ "${TEACHER_PRESET:-cpu-demo}" != cpu-demo ]; then setting teacher_updates null; fi
if [ -n "${STUDENT_UPDATES:-}" ]; then setting student_updates "$STUDENT_UPDATES"
elif [ "${STUDENT_PRESET:-cpu-demo}" != cpu-demo ]; then setting student_updates null; fi
setting teacher_extra "${TEACHER_EXTRA:-}"
setting student_extra "${STUDENT_EXTRA:-}"
setting regen_extra "${REGEN_EXTRA:-}"
[ "${STUDENTS:-1}" != 0 ] || setting students "[]"
[ "${ONPOLICY:-0}" != 1 ] || setting onpolicy True
setting onpolicy_updates "${ONPOLICY_UPDATES:-}"
ARGS=()
[ "${KEEP_GOING:-0}" != 1 ] || ARGS+=(--keep-going)
cores=$(getconf _NPROCESSORS_ONLN)
if [ "$DEVICE" = cuda ]; then
  # every training and decoding job asks for the GPU; JOBS (default 4) of them share it
  setting gpus 1
  ARGS+=(--resources "gpu=${JOBS:-4}")
elif [ -n "${JOBS:-}" ]; then
  [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "JOBS=$JOBS: give the number of students trained at once"
  setting student_threads $(( cores / JOBS > 0 ? cores / JOBS : 1 ))
fi

run_workflow "$ROOT/config/demo.yaml" -- ${ARGS[@]+"${ARGS[@]}"} "$@"
