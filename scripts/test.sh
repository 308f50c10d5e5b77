#!/usr/bin/env bash
# The test command: set up (or reuse) the environment, then run the whole test suite on CPU.
#
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup-env.sh"
: "${KDSEQ_VENV:=$ROOT/.venv}"
cd "$ROOT"
exec "$KDSEQ_VENV/bin/python" -m pytest tests "$@"
