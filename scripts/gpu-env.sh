#!/usr/bin/env bash
# Sourced by scripts/gpu-reproduce.sh and scripts/gpu-headline.sh on a bare GPU machine without network: installs
# what the machine lacks from PACK/wheels (made by scripts/gpu-pack.sh) into /tmp/kdseq-site, writes kdseq's
# console scripts as launchers of this checkout into /tmp/kdseq-bin, and exports PYTHON, PYTHONPATH and PATH.
# Needs: ROOT (the checkout), PACK, PYTHON, and a stamp function.
[ -d "$PACK/wheels" ] || { echo "error: $PACK has no wheels/: make it with scripts/gpu-pack.sh" >&2; exit 1; }
stamp "install"
"$PYTHON" -c 'import torch, sys; print("[gpu] torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "", "python", sys.version.split()[0])'
if ! "$PYTHON" -c "import fairseq, hydra, bitarray, rouge_score, ctranslate2, snakemake" 2> /dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/kdseq-site \
    "$PACK"/wheels/*.whl
  export PYTHONPATH=/tmp/kdseq-site${PYTHONPATH:+:$PYTHONPATH} PATH=/tmp/kdseq-site/bin:$PATH
fi
# kdseq itself runs from this checkout (the folder --user-dir names): its console scripts are written as small
# launchers, since installing it (even editable) needs a build step that wants the network.
mkdir -p /tmp/kdseq-bin
"$PYTHON" - "$ROOT/setup.py" "$PYTHON" <<'PY'
import os, re, sys
for name, mod, fn in re.findall(r'"(kdseq-[\w-]+)=([\w.]+):(\w+)"', open(sys.argv[1]).read()):
    path = os.path.join("/tmp/kdseq-bin", name)
    with open(path, "w") as f:
        f.write(f"#!{sys.argv[2]}\nimport sys\nfrom {mod} import {fn}\nsys.exit({fn}())\n")
    os.chmod(path, 0o755)
PY
export PYTHON PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PATH="/tmp/kdseq-bin:$PATH"
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
"$PYTHON" -c "import kdseq, fairseq, ctranslate2; from kdseq.decoding.ct2 import ct2_cuda_available as c; \
print('[gpu] fairseq', fairseq.__version__, 'ctranslate2', ctranslate2.__version__, 'ct2 on GPU:', c())"
# minutes as fairseq's --stop-time-hours
hours() { "$PYTHON" -c "print(round($1 / 60, 5))"; }
