"""Writing files so that a reader (or a rerun after a kill) never sees half of one."""
import os


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder, synced, then renamed over it."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
