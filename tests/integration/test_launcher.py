"""The suite's launcher (tests/launcher.py) runs a console script as the real one does: same exit status, same
streams, the caller's folder and environment, its own process."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import BIN, commands


def run(folder, name, *args, **kw):
    return subprocess.run([os.path.join(folder, name), *args], capture_output=True, text=True, timeout=120, **kw)


def without_import_log(text):
    """fairseq logs one line when it is imported; through the launcher it was imported before the command."""
    return "\n".join(line for line in text.splitlines() if "Please install tensorboardX" not in line)


@pytest.fixture(scope="module")
def launched():
    if commands() == BIN:
        pytest.skip("KDSEQ_TEST_FORK=0: every command is a fresh interpreter")
    return commands()


def test_a_refused_command_exits_and_prints_as_the_real_one(launched, tmp_path):
    args = ("kdseq-evaluate", str(tmp_path / "none"), "--path", "x.pt")
    real, forked = run(BIN, *args), run(launched, *args)
    assert forked.returncode == real.returncode == 2
    assert (forked.stdout, forked.stderr) == (real.stdout, real.stderr)
    assert "kdseq-evaluate: error: DATA" in forked.stderr and "Traceback" not in forked.stderr


def test_python_dash_m_fairseq_train_is_launched_and_other_python_runs_plainly(launched, tmp_path):
    real = run(BIN, "python", "-m", "fairseq_cli.train", "--help")
    forked = run(launched, "python", "-m", "fairseq_cli.train", "--help")
    assert forked.returncode == real.returncode == 0
    assert without_import_log(forked.stdout) == without_import_log(real.stdout)
    assert forked.stdout.startswith("usage: train.py")
    code = "import os, sys; print(sys.executable, os.getcwd(), os.environ['KDSEQ_PROBE'])"
    plain = run(launched, "python", "-c", code, cwd=tmp_path, env=dict(os.environ, KDSEQ_PROBE="x"))
    assert plain.stdout.split() == [sys.executable, str(tmp_path), "x"]


def test_the_command_gets_the_callers_folder_environment_and_threads(launched, tmp_path):
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    fresh = run(BIN, "python", "-c", "import torch; print(torch.get_num_threads())", env=env)
    seen = [json.loads(run(launched, "launcher-probe", "a b", cwd=tmp_path, env=dict(env, KDSEQ_PROBE=str(i),
                                                                                     **threads)).stdout)
            for i, threads in enumerate(({}, {"OMP_NUM_THREADS": "1"}))]
    assert [s["threads"] for s in seen] == [int(fresh.stdout), 1]
    assert [s["probe"] for s in seen] == ["0", "1"] and all(s["cwd"] == str(tmp_path) for s in seen)
    assert all(s["argv"][1:] == ["a b"] for s in seen) and seen[0]["pid"] != seen[1]["pid"] != os.getpid()


def started(tmp_path, name):
    pidfile = tmp_path / name
    proc = subprocess.Popen([os.path.join(commands(), "launcher-probe"), "--sleep", str(pidfile)])
    deadline = time.time() + 60
    while not pidfile.exists() and time.time() < deadline:
        time.sleep(0.02)
    return proc, int(pidfile.read_text())


def gone(pid):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_a_signal_reaches_the_command_and_a_killed_caller_takes_it_along(launched, tmp_path):
    proc, pid = started(tmp_path, "term")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM and gone(pid)
    proc, pid = started(tmp_path, "kill")
    proc.send_signal(signal.SIGKILL)  # the script itself dies at once; the command must not live on
    assert proc.wait(timeout=10) == -signal.SIGKILL and gone(pid)
