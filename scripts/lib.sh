# Sourced by the training and evaluation scripts: the device fairseq will use, detected once.
#   DEVICE=cuda|cpu, DEVICE_ARGS (--cpu on CPU), FP16_ARGS (--fp16 on a GPU)
# KDSEQ_DEVICE=cpu trains on the CPU of a GPU machine; KDSEQ_DEVICE=cuda skips the check (demo.sh exports
# what it found, so that the scripts it calls do not check again).
: "${PYTHON:=$(command -v python || command -v python3)}"
case "${KDSEQ_DEVICE:-auto}" in
  cpu|cuda) DEVICE=$KDSEQ_DEVICE ;;
  auto) if "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then DEVICE=cuda
        else DEVICE=cpu; fi ;;
  *) echo "error: KDSEQ_DEVICE=$KDSEQ_DEVICE: give cpu, cuda or auto" >&2; exit 1 ;;
esac
if [ "$DEVICE" = cuda ]; then DEVICE_ARGS=(); FP16_ARGS=(--fp16); else DEVICE_ARGS=(--cpu); FP16_ARGS=(); fi

# init_from DATA: with INIT_FROM=CKPT set, ARCH becomes that checkpoint's architecture and the flag that starts from
# its weights (optimizer and counters afresh); a checkpoint of another vocabulary than DATA's is refused.
init_from() {
  [ -n "${INIT_FROM:-}" ] || return 0
  local args
  args=$("$PYTHON" -m kdseq.cli.init_from "$INIT_FROM" "$1") || exit 1
  mapfile -t ARCH <<< "$args"
}

# check_data DIR: a fairseq binarized folder, or a clear error.
check_data() {
  compgen -G "$1/dict.*.txt" > /dev/null \
    || { echo "error: $1 has no dict.*.txt: give kdseq-prepare's <out>/bin folder" >&2; exit 1; }
}
