"""What a deployer asks, teacher against student, both backends, in one run: kdseq-evaluate of each on the test
split with its latency and memory probe (kdseq/deployment.py: the first N sentences one at a time, batch 1, in a
fresh process that loads only the model). Prints one row per model, decoder and beam (BLEU, sentences/s at the
evaluation's batches, p50 / p90 ms at batch 1, peak and base resident MB of the serving process) and the ratios
that matter: the int8 student greedy against the teacher with beam 5 in each backend.

    python benchmarks/deployment.py                      # the demo's teacher and seq-KD student (work/)
    python benchmarks/deployment.py --student work/models/student-word-kd/checkpoint_best.pt --sentences 200
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

DECODERS = (("fairseq float32", "1,5", []), ("ctranslate2 float32", "1,5", ["--backend", "ctranslate2"]),
            ("ctranslate2 int8", "1,5", ["--backend", "ctranslate2", "--compute-type", "int8"]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "work/libreoffice-en-de/data/bin"))
    p.add_argument("--teacher", default=os.path.join(ROOT, "work/models/teacher/checkpoint_best.pt"))
    p.add_argument("--student", default=os.path.join(ROOT, "work/models/student-seq-kd/checkpoint_best.pt"))
    p.add_argument("--sentences", type=int, default=100, help="sentences timed one at a time (batch 1)")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="kdseq-deployment-")
    env = dict(os.environ, KDSEQ_CT2_CACHE=os.path.join(work, "ct2"))
    rows = {}
    for who, path in (("teacher", a.teacher), ("student", a.student)):
        for decoder, beams, extra in DECODERS:
            out = os.path.join(work, f"{who}-{decoder.replace(' ', '-')}")
            subprocess.run([os.path.join(BIN, "kdseq-evaluate"), a.data, "--path", path, "--beams", beams, "--cpu",
                            "--name", who, "--output-dir", out, "--latency-sentences", str(a.sentences), *extra],
                           check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for beam in beams.split(","):
                with open(os.path.join(out, f"{who}.test.beam{beam}.json")) as f:
                    rows[who, decoder, int(beam)] = json.load(f)
    print(f"test split, {a.sentences} sentences timed at batch 1; {os.cpu_count()} CPU cores\n")
    print("| model | decoder | beam | BLEU | sent/s (batched) | p50 ms | p90 ms | peak MB | base MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (who, decoder, beam), r in rows.items():
        print(f"| {who} | {decoder} | {beam} | {r['bleu']:.2f} | {r['sent_per_s']:.1f} | {r['latency_ms_p50']:.1f} | "
              f"{r['latency_ms_p90']:.1f} | {r['peak_rss_mb']:.0f} | {r['base_rss_mb']:.0f} |")
    shipped = rows["student", "ctranslate2 int8", 1]
    print()
    for decoder in ("fairseq float32", "ctranslate2 float32", "ctranslate2 int8"):
        t = rows["teacher", decoder, 5]
        grown = (t["peak_rss_mb"] - t["base_rss_mb"], shipped["peak_rss_mb"] - shipped["base_rss_mb"])
        print(f"student int8 greedy vs teacher {decoder} beam 5: latency p50 "
              f"{t['latency_ms_p50'] / shipped['latency_ms_p50']:.1f}x lower, p90 "
              f"{t['latency_ms_p90'] / shipped['latency_ms_p90']:.1f}x lower; peak memory {t['peak_rss_mb']:.0f} -> "
              f"{shipped['peak_rss_mb']:.0f} MB ({t['peak_rss_mb'] / shipped['peak_rss_mb']:.2f}x), of it the model "
              f"and its decoding {grown[0]:.0f} -> {grown[1]:.0f} MB; BLEU {shipped['bleu'] - t['bleu']:+.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
