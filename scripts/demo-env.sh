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
