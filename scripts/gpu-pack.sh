#!/usr/bin/env bash
# Make what scripts/gpu-reproduce.sh needs on a GPU machine without network, on a machine with network:
#   PACK/wheels/  wheels of what the GPU machine lacks, for its Python (fairseq built here, without the
#                 torch C++ extensions that kdseq never loads, so it needs no torch and no CUDA to build)
#   PACK/data/    the prepared LibreOffice en-de data (run the demo's data stage first), for gpu-reproduce.sh;
#                 DEMO_DATA=0 leaves it out
#   PACK/headlines/tsv.tar.xz  with HEADLINES=1: the extracted headline corpora (bash data-prep/headlines.sh
#                 first), for gpu-headline.sh (8 MB)
#
#   PY=python3.12 bash scripts/gpu-pack.sh [PACK]        # PACK defaults to .gpu (git-ignored)
#   HEADLINES=1 DEMO_DATA=0 PY=python3.12 bash scripts/gpu-pack.sh   # what gpu-headline.sh needs
#
# PY must be the GPU machine's Python version (3.12 for a GPU image with torch 2.11 preinstalled, which has
# numpy, sentencepiece, sacrebleu, regex, scikit-learn, matplotlib and pyyaml, but none of fairseq,
# hydra-core, omegaconf, antlr4, bitarray, rouge-score, nltk, ctranslate2, snakemake). About 1 minute and 80 MB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK=${1:-$ROOT/.gpu}
: "${PY:=python3.12}"
: "${WORK:=$ROOT/work}"
: "${PREPARED:=$WORK/libreoffice-en-de/data}"
: "${DEMO_DATA:=1}"
: "${HEADLINES:=0}"
HL_TSV="$WORK/headlines/tsv"
log() { echo "[gpu-pack] $*" >&2; }
command -v "$PY" > /dev/null || { echo "error: PY=$PY not found: give the GPU machine's Python version, e.g. PY=python3.12" >&2; exit 1; }
[ "$HEADLINES" = 0 ] || [ -f "$HL_TSV/extract.json" ] || { echo "error: $HL_TSV has no extract.json: run 'bash data-prep/headlines.sh' first" >&2; exit 1; }
[ "$DEMO_DATA" = 0 ] || [ -f "$PREPARED/prepare.json" ] || { echo "error: $PREPARED is not a kdseq-prepare output: run 'bash data-prep/libreoffice.sh de' first (or give PREPARED=...)" >&2; exit 1; }
pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
if [ -e "$PACK" ] && [ ! -f "$PACK/.kdseq-gpu-pack" ]; then
  echo "error: $PACK exists and is not a kdseq GPU pack: give another folder" >&2; exit 1
fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
rm -rf "$PACK"; mkdir -p "$PACK/wheels"; touch "$PACK/.kdseq-gpu-pack"

log "building fairseq-fixed 0.12.3.1 for cp$pyver (Cython extensions only)"
"$PY" -m venv "$TMP/venv"
"$TMP/venv/bin/pip" install -q "numpy>=2,<2.3" cython setuptools wheel
# pip reads the sdist's metadata by running its setup.py, which imports torch only to declare the C++
# extensions dropped below: a stand-in module serves that one step, so this machine needs no torch.
mkdir -p "$TMP/stub/torch/utils"
touch "$TMP/stub/torch/__init__.py" "$TMP/stub/torch/utils/__init__.py"
printf 'from setuptools import Extension as CppExtension\nfrom setuptools.command.build_ext import build_ext as BuildExtension\n' \
  > "$TMP/stub/torch/utils/cpp_extension.py"
PYTHONPATH="$TMP/stub" "$TMP/venv/bin/pip" download -q --no-deps --no-binary :all: --no-build-isolation \
  fairseq-fixed==0.12.3.1 -d "$TMP"
tar xzf "$TMP"/fairseq_fixed-0.12.3.1.tar.gz -C "$TMP"
"$TMP/venv/bin/python" - "$TMP/fairseq_fixed-0.12.3.1/setup.py" <<'PY'
import sys
path = sys.argv[1]
s = open(path).read()
# fairseq imports libbase/libnat/alignment (torch C++ extensions) lazily, only for models kdseq does not use.
s = s.replace("from torch.utils import cpp_extension\n", "")
start = s.index('extensions.extend(\n    [\n        cpp_extension.CppExtension(\n            "fairseq.libbase"')
end_marker = 'cmdclass = {"build_ext": cpp_extension.BuildExtension}'
end = s.index(end_marker) + len(end_marker)
open(path, "w").write(s[:start] + "cmdclass = {}" + s[end:])
PY
(cd "$TMP/fairseq_fixed-0.12.3.1" && "$TMP/venv/bin/pip" wheel -q --no-deps --no-build-isolation . -w "$TMP/built")
"$TMP/venv/bin/python" -m wheel unpack "$TMP"/built/fairseq_fixed-*.whl -d "$TMP/unpacked" > /dev/null
rm -rf "$TMP"/unpacked/fairseq_fixed-*/fairseq/examples   # 17 MB of examples kdseq never imports
"$TMP/venv/bin/python" -m wheel pack "$TMP"/unpacked/fairseq_fixed-* -d "$PACK/wheels" > /dev/null

log "downloading the other wheels for cp$pyver"
"$TMP/venv/bin/pip" download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -d "$PACK/wheels" \
  hydra-core==1.3.2 omegaconf==2.3.0 bitarray nltk defusedxml ctranslate2==4.8.5
"$TMP/venv/bin/pip" wheel -q --no-deps rouge-score==0.1.2 antlr4-python3-runtime==4.9.3 -w "$PACK/wheels"
# Snakemake (the recipes are its workflow) with its dependencies, less what the GPU image has (numpy and the others
# named above: the image's own are used)
# (wheels built by the GPU machine's Python version: some of them are sources only, e.g. connection_pool)
"$TMP/venv/bin/pip" wheel -q -w "$TMP/snakemake" snakemake==9.27.1
for whl in "$TMP"/snakemake/*.whl; do
  case "$(basename "$whl" | tr 'A-Z_' 'a-z-')" in
    numpy-*|pyyaml-*|packaging-*|regex-*|scikit-learn-*|matplotlib-*|sentencepiece-*|sacrebleu-*) ;;
    *) cp "$whl" "$PACK/wheels/" ;;
  esac
done

if [ "$DEMO_DATA" = 1 ]; then
  log "copying the prepared data"
  mkdir -p "$PACK/data/raw"
  cp -r "$PREPARED/bin" "$PREPARED/spm.model" "$PREPARED/prepare.json" "$PACK/data/"
  cp "$PREPARED"/raw/valid.* "$PREPARED"/raw/test.* "$PACK/data/raw/"
fi
if [ "$HEADLINES" = 1 ]; then
  log "packing the headline corpora (xz -9e: spm-text.txt repeats the other files)"
  mkdir -p "$PACK/headlines"
  tar cf - -C "$(dirname "$HL_TSV")" tsv | xz -9e -T0 > "$PACK/headlines/tsv.tar.xz"
fi
du -sh "$PACK"/* >&2
log "ready: $PACK (carry it to the GPU machine, then: bash scripts/gpu-reproduce.sh OUT or gpu-headline.sh OUT)"
