# Sourced by the training scripts: the device fairseq-train will use, detected once.
#   DEVICE=cuda|cpu, DEVICE_ARGS (--cpu on CPU), FP16_ARGS (--fp16 on a GPU)
# Set KDSEQ_DEVICE=cpu to train on the CPU of a GPU machine.
: "${PYTHON:=python}"
if [ "${KDSEQ_DEVICE:-auto}" != cpu ] && "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  DEVICE=cuda; DEVICE_ARGS=(); FP16_ARGS=(--fp16)
else
  DEVICE=cpu; DEVICE_ARGS=(--cpu); FP16_ARGS=()
fi

# check_data DIR: a fairseq binarized folder, or a clear error.
check_data() {
  compgen -G "$1/dict.*.txt" > /dev/null \
    || { echo "error: $1 has no dict.*.txt: give kdseq-prepare's <out>/bin folder" >&2; exit 1; }
}
