# Sourced by scripts/demo.sh and scripts/demo-headline.sh once their settings are read (ROOT, KDSEQ_VENV,
# KDSEQ_SETUP, and their own stamp and die): the environment, set up unless KDSEQ_SETUP=0; the device (lib.sh),
# exported so that the scripts they call do not detect it again; JOBS, the trainings run at once.
if [ "$KDSEQ_SETUP" = 0 ]; then
  command -v kdseq-prepare > /dev/null || die "KDSEQ_SETUP=0 but kdseq is not installed in this environment"
else
  stamp "set-up"
  bash "$ROOT/scripts/setup-env.sh"
  # shellcheck disable=SC1091
  source "$KDSEQ_VENV/bin/activate"
fi
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
export KDSEQ_DEVICE=$DEVICE
: "${JOBS:=$( [ "$DEVICE" = cuda ] && echo 4 || { [ "$(nproc)" -ge 2 ] && echo 2 || echo 1; })}"
[[ "$JOBS" =~ ^[1-4]$ ]] || die "JOBS=$JOBS: give 1, 2, 3 or 4 (students trained at once)"
# the interpreter kdseq is installed in (the venv's, or the active environment's with KDSEQ_SETUP=0)
PYTHON="$(dirname "$(command -v kdseq-prepare)")/python"
[ -x "$PYTHON" ] || PYTHON=python3
export PYTHON
: "${KEEP_GOING:=0}"   # 1: a failed training job does not stop the others (the demo still exits 1 at its end)
FAILED=0

# stage_done DIR KEY=VALUE...: whether the stage that makes DIR already ran with these settings (kdseq-stage
# keeps them in DIR/kdseq-stage.json); a stage made with other settings stops the recipe, naming the difference.
stage_done() {
  local rc=0
  kdseq-stage check "$@" || rc=$?
  [ $rc = 2 ] && exit 1
  return $rc
}

# train NAME SCRIPT ARGS...: run a training script once into $MODELS/NAME (an interrupted run resumes from its
# checkpoint_last.pt). The finished model records its command; a rerun with another command (e.g. other update
# counts) is refused instead of silently reusing the old model. Returns 1 if the training fails.
train() {
  local name=$1; shift
  local want="$*"
  # compared without the checkout's path, so that a moved or re-cloned checkout reuses its models
  local cmd="command=${INIT_FROM:+INIT_FROM=$INIT_FROM }${want#*scripts/}"  # INIT_FROM: the start, if any
  stage_done "$MODELS/$name" "$cmd" && return 0
  stamp "$name: training; log: $MODELS/$name.log"
  bash "$@" > "$MODELS/$name.log" 2>&1 || { tail -20 "$MODELS/$name.log"; return 1; }
  kdseq-stage record "$MODELS/$name" "$cmd"
}

# run_jobs JOB...: shell functions run JOBS at once, each with its share of the cores (OMP_NUM_THREADS); the
# next starts as soon as one ends. A failed job stops the recipe, or with KEEP_GOING=1 is recorded in FAILED.
run_jobs() {
  local threads=$(( $(nproc) / JOBS )) running=0 job fail=0
  [ "$threads" -ge 1 ] || threads=1
  for job in "$@"; do
    if [ "$JOBS" = 1 ]; then "$job" || fail=1; continue; fi
    if [ "$running" -ge "$JOBS" ]; then wait -n || fail=1; running=$(( running - 1 )); fi
    OMP_NUM_THREADS=$threads "$job" & running=$(( running + 1 ))
  done
  while [ "$running" -gt 0 ]; do wait -n || fail=1; running=$(( running - 1 )); done
  if [ $fail = 1 ]; then
    [ "$KEEP_GOING" = 1 ] || die "a training job failed (logs: $MODELS/*.log)"
    stamp "a training job failed (logs: $MODELS/*.log); KEEP_GOING=1: going on"
    FAILED=1
  fi
}
