"""kdseq-prepare on synthetic corpora of growing size: wall time and peak memory (max RSS of the process and its
children), and their ratios between sizes. Users bring WMT-sized corpora (millions of pairs): time should grow
linearly with the pairs and memory sublinearly (or stay under 4 GB at 5M pairs). CPU time (user + system) is
printed beside the wall time: on a shared machine it is the steadier measure of how the work grows.

    python benchmarks/prepare_scale.py --pairs 1000000,5000000 [--work /tmp/prep-bench] [--workers 2]

The corpus: sentences of 8-40 words drawn (Zipf-like) from a 30,000-word synthetic vocabulary, the target a
fixed word-by-word mapping of the source (so sentencepiece and the binarizer see realistic piece counts).
Random split of 1,000 valid and 1,000 test pairs, vocabulary 8,000, as the demo prepares a user's corpus.
"""
import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time

BIN = os.path.dirname(sys.executable)


def make_corpus(path, n, seed=1):
    rng = random.Random(seed)
    vocab = [f"w{i:05d}" for i in range(30000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(8, 40))
            f.write(" ".join(words) + "\t" + " ".join("z" + w[1:][::-1] for w in words) + "\n")


def run_prepare(corpus, out, workers):
    """(wall seconds, CPU seconds, peak RSS in MB) of kdseq-prepare and its worker processes. CPU seconds (user +
    system) are what a busy machine distorts least."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([os.path.join(BIN, "kdseq-prepare"), "--train", corpus, "--src-lang", "en", "--tgt-lang", "de",
                    "--out-dir", out, "--workers", str(workers)], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1024  # the largest child so far, in KB


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default="1000000,5000000", help="comma-separated corpus sizes, smallest first")
    p.add_argument("--work", default="/tmp/kdseq-prepare-bench")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    sizes = [int(x) for x in a.pairs.split(",")]
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for n in sizes:  # smallest first: ru_maxrss of the children only grows, so each size's peak is its own
        corpus = os.path.join(a.work, f"corpus-{n}.tsv")
        if not os.path.exists(corpus):
            make_corpus(corpus, n)
        out = os.path.join(a.work, f"out-{n}")
        shutil.rmtree(out, ignore_errors=True)
        wall, cpu, rss = run_prepare(corpus, out, a.workers)
        with open(os.path.join(out, "prepare.json")) as f:
            pairs = json.load(f)["train_pairs"]
        rows.append((n, wall, cpu, rss))
        print(f"{n:>9,} pairs: {wall:8.1f} s wall, {cpu:8.1f} s CPU, peak RSS {rss:8.0f} MB, {pairs:,} training "
              f"pairs, corpus {os.path.getsize(corpus) / 1e6:.0f} MB", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    for (n0, w0, c0, r0), (n1, w1, c1, r1) in zip(rows, rows[1:]):
        print(f"{n1 / n0:.1f}x the pairs: {w1 / w0:.2f}x the wall time, {c1 / c0:.2f}x the CPU time, "
              f"{r1 / r0:.2f}x the peak memory")


if __name__ == "__main__":
    main()
