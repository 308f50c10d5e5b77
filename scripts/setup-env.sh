#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install everything kdseq needs.
# Idempotent: a second run checks a stamp and installs nothing that is already there.
#
#   bash scripts/setup-env.sh            # creates .venv in the repo root
#   KDSEQ_VENV=/path/to/venv bash scripts/setup-env.sh
#
# Traps avoided (verified on Debian 12, Python 3.11, 2 cores, November 2026):
#  - torch is pinned to the local CPU build; an unpinned torch pulls several GB of CUDA packages.
#  - If the base python already has a CUDA torch (a GPU machine), the venv sees it (--system-site-packages)
#    and that torch is used: nothing replaces it.
#  - fairseq 0.12.2 does not install on Python 3.11; fairseq-fixed 0.12.3.1 is built --no-deps
#    --no-build-isolation (otherwise pip fetches a newer torch to build it, and torchaudio drags CUDA in).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${KDSEQ_VENV:=$ROOT/.venv}"
: "${KDSEQ_PYTHON:=python3}"
: "${TORCH_VERSION:=2.13.0}"
FAIRSEQ_SPEC="fairseq-fixed==0.12.3.1"
RUNTIME_DEPS=(
  "hydra-core==1.3.2" "omegaconf==2.3.0" bitarray regex "sacrebleu>=2.3,<3" tqdm cffi cython "numpy<2.3"
  packaging scikit-learn "sentencepiece>=0.1.99" "rouge-score==0.1.2" pytest "pytest-xdist==3.8.0" "ctranslate2==4.8.5"
  "matplotlib>=3.7,<4" "snakemake==9.27.1" "snakemake-executor-plugin-slurm==2.6.1"
)
STAMP_KEY="torch=$TORCH_VERSION fairseq=$FAIRSEQ_SPEC deps=${RUNTIME_DEPS[*]} setup=$(cat "$ROOT/setup.py" | cksum)"

log() { echo "[setup-env] $*" >&2; }

if [ -x "$KDSEQ_VENV/bin/python" ] && [ -f "$KDSEQ_VENV/.kdseq-stamp" ] \
   && [ "$(cat "$KDSEQ_VENV/.kdseq-stamp")" = "$STAMP_KEY" ]; then
  log "environment up to date: $KDSEQ_VENV"
  exit 0
fi

has_cuda_torch=$("$KDSEQ_PYTHON" - <<'PY' 2>/dev/null || echo no
try:
    import torch
    print("yes" if torch.version.cuda else "no")
except Exception:
    print("no")
PY
)

if [ ! -x "$KDSEQ_VENV/bin/python" ]; then
  if [ "$has_cuda_torch" = yes ]; then
    log "base python has a CUDA torch: creating $KDSEQ_VENV with --system-site-packages to use it"
    "$KDSEQ_PYTHON" -m venv --system-site-packages "$KDSEQ_VENV"
  else
    log "creating $KDSEQ_VENV"
    "$KDSEQ_PYTHON" -m venv "$KDSEQ_VENV"
  fi
fi
PY="$KDSEQ_VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

if "$PY" -c "import torch" 2>/dev/null; then
  log "torch present: $("$PY" -c 'import torch; print(torch.__version__)')"
else
  log "installing torch==$TORCH_VERSION (CPU build)"
  "${PIP[@]}" install "torch==$TORCH_VERSION"
fi
TORCH_NOW=$("$PY" -c 'import torch; print(torch.__version__)')
# A constraints file keeps every later install from replacing the torch we have.
CONSTRAINTS="$KDSEQ_VENV/kdseq-constraints.txt"
echo "torch==$TORCH_NOW" > "$CONSTRAINTS"

log "installing runtime dependencies"
"${PIP[@]}" install -c "$CONSTRAINTS" "${RUNTIME_DEPS[@]}" setuptools wheel

if "$PY" -c "import fairseq" 2>/dev/null; then
  log "fairseq present: $("$PY" -c 'import fairseq; print(fairseq.__version__)')"
else
  log "building $FAIRSEQ_SPEC (about 3 minutes the first time; the wheel is cached by pip)"
  "${PIP[@]}" install -c "$CONSTRAINTS" --no-deps --no-build-isolation "$FAIRSEQ_SPEC"
fi

log "installing kdseq (editable)"
"${PIP[@]}" install -c "$CONSTRAINTS" --no-deps --no-build-isolation -e "$ROOT"

"$PY" -c "import torch, kdseq, fairseq; print('[setup-env] ok: torch', torch.__version__, 'fairseq', fairseq.__version__)" >&2
echo "$STAMP_KEY" > "$KDSEQ_VENV/.kdseq-stamp"
