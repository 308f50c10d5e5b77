#!/usr/bin/env bash
# Sequence-level distillation data: the teacher translates the training sources (beam 5, 5-best) and writes
# OUT/best/bin (seq-KD) and OUT/bleu/bin (seq-inter), ready for scripts/train-student.sh ... seq-kd.
#
#   scripts/regenerate.sh DATA_BIN TEACHER.pt[:TEACHER2.pt] OUT [kdseq-regenerate args...]
#
# CTranslate2 decodes where it can (float32 on CPU, float16 on a GPU), fairseq otherwise (ensembles).
# Rerun the same command after an interruption: it resumes from the last finished chunk. Extra arguments go
# to kdseq-regenerate last, e.g. --num-shards 4 --shard-id 0 (then --num-shards 4 --merge), --compute-type int8.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 DATA_BIN TEACHER OUT [kdseq-regenerate args...]" >&2; exit 1; }
DATA=$1 TEACHER=$2 OUT=$3
shift 3
kdseq-regenerate "$DATA" --teacher-path "$TEACHER" --out-dir "$OUT" --beam 5 --nbest 5 --select best,bleu "$@"
