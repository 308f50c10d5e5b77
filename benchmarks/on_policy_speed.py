"""Seconds per update of on-policy distillation (``--kd-on-policy``) against online word-KD, on the same batches,
and where the extra time goes (the student's sampling, profiled alone). Prints medians and ratios.

    python benchmarks/on_policy_speed.py DATA_BIN --teacher-path CKPT --student STUDENT_CKPT [--updates 30]
        [--divergence jsd --beta 0.1]

The students start from STUDENT_CKPT (e.g. the demo's seq-KD student, a cpu-demo model): what a student samples
sets the cost, and a random student samples to the length limit on every row (3.5x the gold tokens here), a
trained one about as long as the gold targets.

Rounds are interleaved (word-KD, lambda 0.5, lambda 1, word-KD, ...) so that a noisy machine hurts all alike.
Goal: lambda 0.5 <= 2.0x online word-KD (GKD reports 1.8-2.2x a fixed-data run).
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from word_kd_speed import build, step  # noqa: E402  (the same student, optimiser and update)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--teacher-path", required=True)
    p.add_argument("--student", required=True, help="checkpoint of a cpu-demo student to start every variant from")
    p.add_argument("--updates", type=int, default=30, help="timed updates per variant")
    p.add_argument("--max-tokens", type=int, default=2048)
    p.add_argument("--divergence", default="jsd")
    p.add_argument("--beta", default="0.1")
    a = p.parse_args()
    import kdseq  # noqa: F401
    from kdseq.decoding.generator import batches

    kd = ["--criterion", "word_kd", "--teacher-path", a.teacher_path, "--kd-divergence", a.divergence,
          "--kd-beta", a.beta]
    state = torch.load(a.student, map_location="cpu", weights_only=False)["model"]
    task, word_model, word, word_opt = build(a.data, kd)
    variants = {"word-KD": (word_model, word, word_opt)}
    for lam in ("0.5", "1"):
        _, model, crit, opt = build(a.data, kd + ["--kd-on-policy", lam])
        variants[f"lambda {lam}"] = (model, crit, opt)
    for model, _, _ in variants.values():
        model.load_state_dict(state)
    samples = [s for _, s in zip(range(a.updates + 3), batches(task, [word_model], "train", a.max_tokens, None))]
    times = {k: [] for k in variants}
    tokens = {"gold": 0, "sampled": 0}
    sampling = []  # the sampling of lambda 1 alone (every row)
    sampler = variants["lambda 1"][1].on_policy
    for i, sample in enumerate(samples):
        torch.manual_seed(i)
        for name, (model, crit, opt) in variants.items():
            t0 = time.perf_counter()
            step(model, crit, opt, sample)
            if i >= 3:  # the first updates warm up the allocators
                times[name].append(time.perf_counter() - t0)
        model = variants["lambda 1"][0]
        t0 = time.perf_counter()
        new, _, _ = sampler.resample(model, sample, 0)
        if i >= 3:
            sampling.append(time.perf_counter() - t0)
            tokens["gold"] += sample["ntokens"]
            tokens["sampled"] += new["ntokens"]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"student: {sum(x.numel() for x in word_model.parameters()):,} parameters; teacher "
          f"{sum(x.numel() for m in word.teacher.models for x in m.parameters()):,}; {len(times['word-KD'])} updates "
          f"of <= {a.max_tokens} tokens each; --kd-divergence {a.divergence} --kd-beta {a.beta}; torch threads "
          f"{torch.get_num_threads()}")
    print("median seconds per update: " + "  ".join(f"{k} {v:.4f}" for k, v in med.items()) +
          f"  (sampling every row alone: {statistics.median(sampling):.4f})")
    for lam in ("0.5", "1"):
        print(f"lambda {lam} / word-KD = {med[f'lambda {lam}'] / med['word-KD']:.3f}" +
              ("   (goal <= 2.0)" if lam == "0.5" else ""))
    print(f"sampling every row / word-KD update = {statistics.median(sampling) / med['word-KD']:.3f}; sampled "
          f"tokens / gold tokens of the same rows = {tokens['sampled'] / tokens['gold']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
