"""The suite's command launcher: kdseq's and fairseq's console scripts run in processes forked from one that has
already imported torch and fairseq (5-7 s a process on the 2-core machine), instead of fresh interpreters.

``start()`` (once per pytest process) starts the server and writes, into a new folder, one small script per console
script (``kdseq-*``, ``fairseq-*``) that hands its arguments, working folder, environment and standard streams to
the server. The tests put that folder first on PATH, so ``scripts/demo.sh`` and the tests' ``cli()`` reach it by the
commands' own names. What stays as in a fresh process, for each command:
- it is a process of its own (forked per command: its own pid, memory and exit status; nothing carries over from
  one command to the next), run by the same entry point with the same ``sys.argv``, folder and environment;
- kdseq and the ``--user-dir`` plugins are imported by the command itself (the server imports torch, fairseq and
  their dependencies only);
- the standard streams are the caller's own file descriptors; logging is set up as importing fairseq sets it up,
  after the command's own module (fairseq_cli.train configures it first, to stdout, as in a fresh process);
- ``python -m fairseq_cli.train`` (scripts/train-*.sh) goes the same way; any other use of the folder's ``python``
  runs the venv's interpreter itself;
- torch's thread count follows the command's OMP_NUM_THREADS (unset: the count a fresh process would take), and
  Python's and numpy's random states are reseeded from the OS as at start-up;
- an uncaught exception goes through ``sys.excepthook`` (kdseq's user-error hook included), SystemExit gives the
  exit status as Python would, atexit handlers and non-daemon threads are waited for at exit;
- a signal sent to the script (TERM, INT, HUP) reaches the command; if the script dies (a timeout's SIGKILL), the
  command is killed.
Tests that kill a command on purpose or time it run the real console scripts (``conftest.BIN``).
KDSEQ_TEST_FORK=0 turns the launcher off: every command is then a fresh interpreter.
"""
import atexit
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

SHIM = """#!{python} -S
import json, os, signal, socket, sys
SOCK, REAL = {sock!r}, {real!r}
NAME, ARGV, MODULE = os.path.basename(REAL), sys.argv[1:], None
if NAME.startswith("python"):  # python -m fairseq_cli.train ... (scripts/train-*.sh); anything else: python itself
    if sys.argv[1:3] != ["-m", "fairseq_cli.train"]:
        os.execv(REAL, [REAL] + sys.argv[1:])
    NAME, ARGV, MODULE = "fairseq-train", sys.argv[3:], "fairseq_cli.train"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(SOCK)
except OSError:
    os.execv(REAL, [REAL] + sys.argv[1:])
fds = []
for fd in (0, 1, 2):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
req = json.dumps({{"name": NAME, "real": REAL, "module": MODULE, "argv": ARGV, "cwd": os.getcwd(),
                  "env": dict(os.environ), "fds": fds}}).encode()
socket.send_fds(s, [len(req).to_bytes(8, "big")], fds)
s.sendall(req)
f = s.makefile("r")
pid = int(f.readline().split()[1])
def forward(sig, frame):
    try:
        os.kill(pid, sig)
    except OSError:
        pass
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, forward)
line = f.readline()
code = int(line.split()[1]) if line.startswith("exit ") else 1
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def _entry_points():
    import importlib.metadata as md

    points = {e.name: e.value for e in md.entry_points(group="console_scripts")
              if e.name.startswith(("kdseq-", "fairseq-"))}
    points["launcher-probe"] = "tests.launcher:probe"
    return points


def probe():
    """``launcher-probe``: what a launched command sees (tests/integration/test_launcher.py)."""
    import time

    import torch

    if sys.argv[1:2] == ["--sleep"]:  # --sleep PIDFILE: write the pid, then wait to be signalled
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(600)
    print(json.dumps({"cwd": os.getcwd(), "argv": sys.argv, "threads": torch.get_num_threads(), "pid": os.getpid(),
                      "probe": os.environ.get("KDSEQ_PROBE")}))


def start():
    """Start the server for this process and write its scripts; returns their folder (None if it did not start:
    the callers then run the real console scripts)."""
    if os.environ.get("KDSEQ_TEST_FORK", "1") == "0":
        return None
    folder = tempfile.mkdtemp(prefix="kdseq-cli-")
    sock = os.path.join(folder, "s")
    proc = subprocess.Popen([sys.executable, "-m", "tests.launcher", sock, str(os.getpid())],
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={k: v for k, v in os.environ.items()
                                 if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    atexit.register(_stop, proc, folder)
    if proc.stdout.readline().strip() != b"ready":
        return None
    bin_dir = os.path.dirname(sys.executable)
    for name in [*_entry_points(), "python", "python3"]:
        real = os.path.join(bin_dir, name)
        if not os.path.exists(real) and name != "launcher-probe":
            continue
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(SHIM.format(python=sys.executable, sock=sock, real=real))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def _stop(proc, folder):
    proc.kill()
    proc.wait()
    shutil.rmtree(folder, ignore_errors=True)


# --- the server ------------------------------------------------------------------------------------------------

def _recv_request(conn):
    head, fds, _, _ = socket.recv_fds(conn, 8, 3)
    size = int.from_bytes(head, "big")
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return json.loads(data), fds


def _run_command(req, fds, default_threads, targets):
    """In the command's own process: become the console script and exit as it would."""
    import atexit
    import importlib
    import importlib.util
    import io
    import logging
    import random
    import threading

    for i, fd in zip(req["fds"], fds):
        os.dup2(fd, i)
    for fd in fds:
        os.close(fd)
    for i in {0, 1, 2} - set(req["fds"]):
        os.dup2(os.open(os.devnull, os.O_RDWR), i)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    enc = os.environ.get("PYTHONIOENCODING") or sys.stdout.encoding or "utf-8"
    sys.stdin = sys.__stdin__ = io.open(0, "r", encoding=enc, closefd=False)
    sys.stdout = sys.__stdout__ = io.open(1, "w", 1 if os.isatty(1) else -1, encoding=enc, closefd=False)
    sys.stderr = sys.__stderr__ = io.open(2, "w", 1, encoding=enc, errors="backslashreplace",
                                          closefd=False)
    random.seed()
    import numpy
    numpy.random.seed()
    import torch
    omp = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(int(omp) if omp.isdigit() and int(omp) > 0 else default_threads)
    if req["module"]:  # python -m MODULE: the module's file as argv[0], the working folder first on sys.path
        sys.argv = [importlib.util.find_spec(req["module"]).origin, *req["argv"]]
        sys.path[0] = os.getcwd()
    else:
        sys.argv = [req["real"], *req["argv"]]
        sys.path[0] = os.path.dirname(req["real"])
    code = 0
    try:
        module, _, attr = targets[req["name"]].partition(":")
        func = importlib.import_module(module)
        # what importing fairseq does to logging (fairseq/tasks/text_to_speech.py), after the command's own module
        # as in a fresh process: fairseq_cli.train configures the root logger before it imports fairseq
        logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                            datefmt="%Y-%m-%d %H:%M:%S", level=logging.INFO)
        for part in attr.split("."):
            func = getattr(func, part)
        result = func()
        raise SystemExit(result)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)


def _handle(conn, listener, default_threads, targets):
    """In a process of its own per request: fork the command, report its pid and its exit status; kill it if
    the caller goes away."""
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener.close()
    code = 1
    try:
        req, fds = _recv_request(conn)
        pid = os.fork()
        if pid == 0:
            try:
                conn.close()
                _run_command(req, fds, default_threads, targets)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(1)  # not reached unless the launcher itself failed: its error is in the server's log
        for fd in fds:
            os.close(fd)
        conn.sendall(f"pid {pid}\n".encode())
        pidfd = os.pidfd_open(pid)
        while True:
            ready, _, _ = select.select([pidfd, conn], [], [])
            if pidfd in ready:
                break
            if not conn.recv(1):  # the caller is gone
                os.kill(pid, signal.SIGKILL)
                break
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        conn.sendall(f"exit {code}\n".encode())
    except OSError:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


def serve(sock, parent):
    import logging
    import signal

    import fairseq  # noqa: F401  (the 5-7 s this server exists for: torch, fairseq's tasks, models, criterions)
    import fairseq.models.transformer  # noqa: F401
    import fairseq.sequence_generator  # noqa: F401
    import sacrebleu  # noqa: F401
    import sentencepiece  # noqa: F401
    import torch

    root = logging.getLogger()  # as before fairseq's import configured it: each command's import does that
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    default_threads = torch.get_num_threads()
    targets = _entry_points()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], 1.0)
        if not ready:
            continue
        conn, _ = listener.accept()
        if os.fork() == 0:
            _handle(conn, listener, default_threads, targets)
        conn.close()
    listener.close()
    os.unlink(sock)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
