#!/usr/bin/env bash
# LibreOffice help, English -> German (default) or Chinese: download, align, hold out modules, prepare.
#
#   data-prep/libreoffice.sh [de|zh] [extra kdseq-prepare args...]
#
# Stages (each skipped when its output exists; delete the folder to redo it):
#   1. download  apt-get download libreoffice-help-{en-us,<lang>}   -> $CACHE/debs
#   2. unpack    dpkg-deb -x                                        -> $CACHE/unpacked
#   3. extract   kdseq-extract-libreoffice (module hold-out)        -> $WORK/libreoffice-en-<lang>/tsv
#   4. prepare   kdseq-prepare (sentencepiece, fairseq binarize)    -> $WORK/libreoffice-en-<lang>/data
# Valid = schart, test = smath: whole modules, so test sentences are not near-copies of training ones.
set -euo pipefail

usage() { echo "usage: $0 [de|zh] [kdseq-prepare args...]" >&2; exit 1; }
LANG_CODE=${1:-de}
[ $# -gt 0 ] && shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${CACHE:=$ROOT/cache}"
: "${WORK:=$ROOT/work}"
: "${VOCAB_SIZE:=4000}"
: "${VALID_MODULES:=schart}"
: "${TEST_MODULES:=smath}"

case "$LANG_CODE" in
  de) PKG=libreoffice-help-de; HELP_LANG=de; EXTRA=() ;;
  zh) PKG=libreoffice-help-zh-cn; HELP_LANG=zh-CN; EXTRA=(--cjk-target) ;;
  *) usage ;;
esac
OUT="$WORK/libreoffice-en-$LANG_CODE"

echo "[libreoffice] 1/4 download $PKG"
mkdir -p "$CACHE/debs"
for pkg in libreoffice-help-en-us "$PKG"; do
  if ! ls "$CACHE/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    (cd "$CACHE/debs" && apt-get download "$pkg" 2>/dev/null) || {
      echo "error: 'apt-get download $pkg' failed: run 'apt-get update' once (as root), then retry" >&2; exit 1; }
  fi
done

echo "[libreoffice] 2/4 unpack"
for pkg in libreoffice-help-en-us "$PKG"; do
  stamp="$CACHE/unpacked/.$pkg.done"
  if [ ! -f "$stamp" ]; then
    mkdir -p "$CACHE/unpacked"
    dpkg-deb -x "$(ls "$CACHE/debs/${pkg}_"*.deb | tail -1)" "$CACHE/unpacked"
    touch "$stamp"
  fi
done

echo "[libreoffice] 3/4 extract aligned segments (valid: $VALID_MODULES, test: $TEST_MODULES)"
if [ ! -f "$OUT/tsv/extract.json" ]; then
  kdseq-extract-libreoffice --help-root "$CACHE/unpacked/usr/share/libreoffice/help" --tgt-lang "$HELP_LANG" \
    --valid-modules "$VALID_MODULES" --test-modules "$TEST_MODULES" --out-dir "$OUT/tsv" "${EXTRA[@]}"
fi

echo "[libreoffice] 4/4 prepare (sentencepiece $VOCAB_SIZE, fairseq binarize)"
kdseq-prepare --train "$OUT/tsv/train.tsv" --valid "$OUT/tsv/valid.tsv" --test "$OUT/tsv/test.tsv" \
  --src-lang en --tgt-lang "$LANG_CODE" --out-dir "$OUT/data" --vocab-size "$VOCAB_SIZE" --drop-overlap \
  --workers 2 "$@"
echo "[libreoffice] ready: $OUT/data/bin (counts: $OUT/tsv/extract.json, $OUT/data/prepare.json)"
