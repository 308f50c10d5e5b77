#!/usr/bin/env bash
# The test command: set up (or reuse) the environment, then run the whole test suite on CPU, two test files at a
# time (pytest-xdist; KDSEQ_TEST_WORKERS=0 runs them in one process). kdseq's and fairseq's commands run forked from
# a process that has imported torch and fairseq once (tests/launcher.py; KDSEQ_TEST_FORK=0: fresh interpreters).
#
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup-env.sh"
: "${KDSEQ_VENV:=$ROOT/.venv}"
cd "$ROOT"
exec "$KDSEQ_VENV/bin/python" -m pytest tests -n "${KDSEQ_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
