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

# begin_training SAVE ARGS...: a SAVE_DIR holds one training, its arguments in SAVE/command.txt. The same arguments
# resume from checkpoint_last.pt (fairseq's own behaviour); other ones are refused in one line, or with
# KDSEQ_ON_CHANGE=restart (the workflow: a changed setting rebuilds) the checkpoints this script made are removed and
# the training starts over. A folder with checkpoints and no command.txt was not made here: refused, never deleted.
begin_training() {
  local save=$1; shift
  local want="$*" rec="$save/command.txt"
  mkdir -p "$save"
  if [ -f "$rec" ]; then
    if [ "$(cat "$rec")" = "$want" ]; then repair_last_checkpoint "$save"; return 0; fi
    if [ "${KDSEQ_ON_CHANGE:-refuse}" != restart ]; then
      echo "error: $save holds a training started with other arguments ($rec): give another SAVE_DIR, or remove that folder to start over" >&2
      exit 1
    fi
    echo "[train] $save was started with other arguments: starting over"
    rm -f "$save"/checkpoint*.pt "$save/training.json" "$rec"
  elif compgen -G "$save/checkpoint*.pt" > /dev/null; then
    echo "error: $save holds checkpoints this script did not start (no command.txt): give another SAVE_DIR" >&2
    exit 1
  fi
  printf '%s\n' "$want" > "$rec.tmp" && mv "$rec.tmp" "$rec"
}

# end_training SAVE: SAVE/training.json, the finished training's record (what the workflow waits for): its
# arguments and the checkpoint to use (checkpoint_best.pt, or checkpoint_last.pt when it was not validated).
end_training() {
  local ckpt=checkpoint_best.pt
  [ -f "$1/$ckpt" ] || ckpt=checkpoint_last.pt
  "$PYTHON" -c 'import json, sys; print(json.dumps({"command": open(sys.argv[1]).read().strip(), "checkpoint": sys.argv[2]}))' \
    "$1/command.txt" "$ckpt" > "$1/training.json.tmp"
  mv "$1/training.json.tmp" "$1/training.json"
}

# repair_last_checkpoint SAVE: fairseq writes a checkpoint atomically, then copies it in place to
# checkpoint_last.pt (and checkpoint_best.pt); a kill during that copy leaves checkpoint_last.pt cut short, and the
# resume would fail on it. It is replaced by the newest complete checkpoint of the folder (the one it was copied
# from), or removed if there is none (the training starts over).
repair_last_checkpoint() {
  "$PYTHON" - "$1" <<'PY'
import glob, os, shutil, sys, zipfile
save = sys.argv[1]
last = os.path.join(save, "checkpoint_last.pt")
def complete(path):
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
if os.path.exists(last) and not complete(last):
    others = [p for p in glob.glob(os.path.join(save, "checkpoint*.pt")) if p != last and complete(p)]
    if others:
        newest = max(others, key=os.path.getmtime)
        shutil.copyfile(newest, last + ".tmp")
        os.replace(last + ".tmp", last)
        print(f"[train] {last} was cut short (killed while fairseq copied it): resuming from {os.path.basename(newest)}")
    else:
        os.remove(last)
        print(f"[train] {last} was cut short (killed while fairseq copied it) and no complete checkpoint is left: starting over")
PY
}
