"""Writing files and folders so that a reader (or a rerun after a kill) never sees half of one, and never
deleting what kdseq did not create.

- :func:`atomic_write`: one text file, through a synced temporary file renamed over it.
- :func:`staged_dir`: a folder built in a temporary folder beside its destination, renamed into place only when
  complete. Used by kdseq-prepare, kdseq-regenerate's outputs, the CTranslate2 conversion and the teacher cache.
- :func:`check_output_dir`: refuse an existing folder that holds something other than a kdseq output.
"""
import contextlib
import errno
import os
import shutil
import tempfile

from kdseq.errors import KdseqError


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder, synced, then renamed over it."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def real(path):
    """The path with every symbolic link resolved (overlap checks must compare real paths)."""
    return os.path.realpath(os.path.abspath(path))


def inside(path, folder):
    """Whether ``path`` is ``folder`` or lies inside it, after resolving links."""
    p, f = real(path), real(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def check_output_dir(path, marker, flag="--out-dir"):
    """Refuse ``path`` unless it does not exist, is an empty folder, or is a kdseq output (holds ``marker``).

    kdseq replaces only what it made: a folder of models, a home directory or ``.`` is never wiped."""
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path):
        raise KdseqError(f"{flag} {path}: exists and is not a folder; give a new folder name")
    entries = os.listdir(path)
    if entries and marker not in entries:
        raise KdseqError(f"{flag} {path}: the folder is not empty and is not a kdseq output (no {marker}); kdseq "
                         "never deletes what it did not make: give a new or empty folder")


def writable_parent(path, flag="--out-dir"):
    parent = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise KdseqError(f"{flag} {path}: cannot create {parent}: {e.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise KdseqError(f"{flag} {path}: {parent} is not writable: choose a folder you can write to")
    return parent


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(dest):
    """Delete the temporary folders that a killed run (SIGKILL: no cleanup ran) left beside ``dest``: kdseq's
    own, named ``.<name>.tmp-<pid>-*`` or ``.<name>.old-<pid>-*``, of processes that are no longer running."""
    import re

    parent, name = os.path.split(dest)
    pattern = re.compile(rf"^\.{re.escape(name)}\.(?:tmp|old)-(\d+)-")
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_dir(dest, exists="replace", flag="--out-dir"):
    """Build a folder in a temporary folder beside ``dest``; rename it to ``dest`` when the block ends without an
    error, delete it otherwise. ``exists``: what to do with an existing ``dest``: 'replace' it (the caller has
    checked that kdseq made it), 'keep' it (another process finished the same work first; ours is dropped)."""
    dest = real(dest)  # a link to a kdseq output: build beside the real folder, leave the link as it is
    parent = writable_parent(dest, flag)
    remove_stale_temps(dest)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.tmp-{os.getpid()}-", dir=parent)
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700: the output gets a new folder's mode
    try:
        yield tmp
        if os.path.lexists(dest) and exists == "keep":
            shutil.rmtree(tmp, ignore_errors=True)
            return
        if os.path.lexists(dest):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.old-{os.getpid()}-", dir=parent)
            os.replace(dest, os.path.join(old, "previous"))
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
            return
        try:
            os.replace(tmp, dest)
        except OSError as e:  # another process put a folder there meanwhile
            if exists != "keep" or e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def file_sha256(path, block=1 << 20):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(block), b""):
            h.update(b)
    return h.hexdigest()
