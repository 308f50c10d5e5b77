#!/usr/bin/env bash
# Source-side monolingual English for the LibreOffice en-de recipe: the English UI strings and extended tips of
# LibreOffice (the msgids of libreoffice-l10n-de's gettext catalogues; their German translations are not read).
# In domain, and none of it help text: the help's held-out modules stay unseen (kdseq-prepare-mono also drops any
# line that is a source of the held-out splits).
#
#   data-prep/libreoffice-mono.sh          # -> $WORK/libreoffice-en-de/mono/ui.en (and ui.json: the counts)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${CACHE:=$ROOT/cache}"
: "${WORK:=$ROOT/work}"
PKG=libreoffice-l10n-de
OUT="$WORK/libreoffice-en-de/mono"

echo "[libreoffice-mono] 1/3 download $PKG"
mkdir -p "$CACHE/debs"
if ! ls "$CACHE/debs/${PKG}_"*.deb >/dev/null 2>&1; then
  (cd "$CACHE/debs" && apt-get download "$PKG" 2>/dev/null) || {
    echo "error: 'apt-get download $PKG' failed: run 'apt-get update' once (as root), then retry" >&2; exit 1; }
fi
echo "[libreoffice-mono] 2/3 unpack"
stamp="$CACHE/unpacked/.$PKG.done"
if [ ! -f "$stamp" ]; then
  mkdir -p "$CACHE/unpacked"
  dpkg-deb -x "$(ls "$CACHE/debs/${PKG}_"*.deb | tail -1)" "$CACHE/unpacked"
  touch "$stamp"
fi
echo "[libreoffice-mono] 3/3 extract the English strings"
kdseq-extract-libreoffice --ui-english "$CACHE/unpacked/usr/lib/libreoffice/program/resource/de/LC_MESSAGES" \
  --out-dir "$OUT"
echo "[libreoffice-mono] ready: $OUT/ui.en ($(wc -l < "$OUT/ui.en") lines)"
