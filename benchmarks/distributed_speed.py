"""The cost of an update at world size 2 on CPU (torchrun, gloo, one core per rank) against one process with
--update-freq 2 on the same batches (one core, then two): fairseq-train's own updates per second.
Prints every round and the median ratios.

    python benchmarks/distributed_speed.py DATA_BIN [--teacher-path CKPT] [--updates 40] [--rounds 3]

Rounds are interleaved (2 ranks, 1 process on 1 core, 1 process on 2 cores, ...) so that a noisy machine hurts all
alike. With --teacher-path the student trains with word_kd from that online teacher.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
STUDENT = ["--arch", "transformer", "--share-all-embeddings", "--encoder-layers", "2", "--decoder-layers", "2",
           "--encoder-embed-dim", "128", "--decoder-embed-dim", "128", "--encoder-ffn-embed-dim", "512",
           "--decoder-ffn-embed-dim", "512", "--encoder-attention-heads", "4", "--decoder-attention-heads", "4",
           "--dropout", "0.0", "--optimizer", "adam", "--lr", "1e-3", "--label-smoothing", "0.1",
           "--max-tokens", "2048", "--cpu", "--disable-validation", "--no-save", "--log-format", "simple",
           "--no-progress-bar", "--seed", "1"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_per_update(cmd, threads):
    """The median of fairseq-train's logged updates per second over its log intervals (the first, which starts the
    meter, left out), as seconds per update."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-2000:])
    ups = [float(x) for x in re.findall(r"train_inner \|.* ups=([0-9.]+)", out.stdout + out.stderr)][1:]
    return 1.0 / statistics.median(ups)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--teacher-path")
    p.add_argument("--updates", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    crit = ["--task", "translation_kd", "--criterion", "word_kd", "--teacher-path", a.teacher_path,
            "--kd-alpha", "0.5"] if a.teacher_path else ["--criterion", "label_smoothed_cross_entropy"]
    common = [a.data, "--user-dir", os.path.join(ROOT, "kdseq"), *STUDENT, *crit, "--max-update", str(a.updates),
              "--log-interval", str(max(a.updates // 5, 1))]
    work = tempfile.mkdtemp(prefix="kdseq-dist-bench-")
    rows = []
    try:
        for r in range(a.rounds):
            two = seconds_per_update([os.path.join(BIN, "torchrun"), "--nproc-per-node", "2", "--master-port",
                              str(free_port()), os.path.join(BIN, "fairseq-train"), *common,
                              "--distributed-backend", "gloo", "--save-dir", os.path.join(work, "two")], 1)
            one_1 = seconds_per_update([os.path.join(BIN, "fairseq-train"), *common, "--update-freq", "2",
                                "--save-dir", os.path.join(work, "one")], 1)
            one_2 = seconds_per_update([os.path.join(BIN, "fairseq-train"), *common, "--update-freq", "2",
                                "--save-dir", os.path.join(work, "one")], 2)
            rows.append((two, one_1, one_2))
            print(f"round {r + 1}: s/update 2 ranks x 1 core {two:.4f}, 1 process x 1 core {one_1:.4f}, 1 process x "
                  f"2 cores {one_2:.4f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"median s/update: 2 ranks {statistics.median(r[0] for r in rows):.4f}; "
          f"2 ranks / (1 process, 1 core) {statistics.median(r[0] / r[1] for r in rows):.3f}x; "
          f"2 ranks / (1 process, 2 cores) {statistics.median(r[0] / r[2] for r in rows):.3f}x")


if __name__ == "__main__":
    main()
