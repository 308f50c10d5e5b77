#!/usr/bin/env bash
# The headline recipe's table, printed: both test sets (kdseq-report --headline), teacher-hl on its own test set, and
# the checks' warnings (their files, one finding per line) beside it.
#   headline-table.sh RESULTS TEST_MODULES "ROW ROW..." CHECK_FILE...
set -euo pipefail
RESULTS=$1 MODULES=$2 ROWS=$3
shift 3
for split in test test1; do
  files=()
  for n in $ROWS; do
    for b in 1 5; do [ -f "$RESULTS/$n.$split.beam$b.json" ] && files+=("$RESULTS/$n.$split.beam$b.json"); done
  done
  echo
  if [ $split = test ]; then echo "## help sections of $MODULES (English body -> Chinese heading)"
  else echo "## Debian packages with a Chinese description (English long description -> Chinese synopsis)"; fi
  kdseq-report --headline "${files[@]}"
done
echo
echo "## teacher-hl on its own test set (Chinese text -> Chinese headline)"
kdseq-report --headline "$RESULTS/teacher-hl.test.beam5.json"
if cat "$@" | grep -q .; then
  echo
  echo "## Warnings"
  cat "$@" | sed 's/^/- /'
fi
