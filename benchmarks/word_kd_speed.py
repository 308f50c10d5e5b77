"""Time per update of one student on the same batches: plain label-smoothed cross-entropy, online word_kd (the
teacher runs every batch) and cached word_kd (kdseq-cache-teacher's top-k). Prints medians and ratios.

    python benchmarks/word_kd_speed.py DATA_BIN --teacher-path CKPT [--cache-dir DIR] [--updates 40]

Rounds are interleaved (plain, online, cached, plain, ...) so that a noisy machine hurts all three alike.
What it shows: a cached update against a plain one, and an online update against a plain one plus the teacher's own
forward pass.
"""
import argparse
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDENT = ["--arch", "transformer", "--share-all-embeddings", "--encoder-normalize-before",
           "--decoder-normalize-before", "--encoder-layers", "2", "--decoder-layers", "2",
           "--encoder-embed-dim", "128", "--decoder-embed-dim", "128", "--encoder-ffn-embed-dim", "512",
           "--decoder-ffn-embed-dim", "512", "--encoder-attention-heads", "4", "--decoder-attention-heads", "4",
           "--dropout", "0.0", "--optimizer", "adam", "--lr", "1e-3", "--label-smoothing", "0.1"]


def build(data, criterion_args, seed=1):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, input_args=[data, "--user-dir", os.path.join(ROOT, "kdseq"),
                                                           "--cpu", "--task", "translation_kd",
                                                           "--disable-validation", *STUDENT, *criterion_args])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    torch.manual_seed(seed)
    model = task.build_model(cfg.model)
    crit = task.build_criterion(cfg.criterion)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    return task, model, crit, opt


def step(model, crit, opt, sample):
    model.train()
    opt.zero_grad()
    loss, _, _ = crit(model, sample)
    loss.backward()
    opt.step()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--teacher-path", required=True)
    p.add_argument("--cache-dir", help="kdseq-cache-teacher output for the train split (built if missing)")
    p.add_argument("--topk", type=int, default=8)
    p.add_argument("--updates", type=int, default=40, help="timed updates per variant")
    p.add_argument("--max-tokens", type=int, default=2048)
    a = p.parse_args()
    import kdseq  # noqa: F401
    from kdseq import cache as kd_cache
    from kdseq.decoding.generator import batches

    cache_dir = a.cache_dir or os.path.join(os.path.dirname(os.path.abspath(a.teacher_path)), f"cache-top{a.topk}")
    task, plain_model, plain, plain_opt = build(a.data, ["--criterion", "label_smoothed_cross_entropy"])
    _, online_model, online, online_opt = build(a.data, ["--criterion", "word_kd", "--teacher-path", a.teacher_path])
    if not os.path.exists(os.path.join(cache_dir, "train", "meta.json")):
        t0 = time.perf_counter()
        meta = kd_cache.build(online.teacher, task, "train", kd_cache.CacheJob(a.topk, cache_dir))
        print(f"built the train cache ({meta['tokens']} tokens, k={a.topk}) in {time.perf_counter() - t0:.0f}s")
    _, cached_model, cached, cached_opt = build(a.data, ["--criterion", "word_kd", "--teacher-cache", cache_dir])
    it = batches(task, [plain_model], "train", a.max_tokens, None)
    samples = [s for _, s in zip(range(a.updates + 3), it)]
    variants = {"plain": (plain_model, plain, plain_opt), "online": (online_model, online, online_opt),
                "cached": (cached_model, cached, cached_opt)}
    times = {k: [] for k in variants}
    teacher_fwd = []
    for i, sample in enumerate(samples):
        for name, (model, crit, opt) in variants.items():
            t0 = time.perf_counter()
            step(model, crit, opt, sample)
            if i >= 3:  # the first updates warm up allocators and check the cache fingerprint
                times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        online.teacher(sample["net_input"])
        if i >= 3:
            teacher_fwd.append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    tf = statistics.median(teacher_fwd)
    size = os.path.getsize(os.path.join(cache_dir, "train", "ids.npy")) + os.path.getsize(
        os.path.join(cache_dir, "train", "lp.npy"))
    tokens = kd_cache.TeacherCache(cache_dir, "train").meta["tokens"]
    print(f"student: {sum(p.numel() for p in plain_model.parameters()):,} parameters; teacher "
          f"{sum(p.numel() for m in online.teacher.models for p in m.parameters()):,}; {len(times['plain'])} "
          f"updates of <= {a.max_tokens} tokens each, torch threads {torch.get_num_threads()}")
    print(f"median seconds per update: plain {med['plain']:.4f}  online {med['online']:.4f}  cached "
          f"{med['cached']:.4f}  (teacher forward alone {tf:.4f})")
    print(f"cached / plain            = {med['cached'] / med['plain']:.3f}   (target <= 1.10)")
    print(f"online / plain            = {med['online'] / med['plain']:.3f}")
    print(f"online / (plain + teacher) = {med['online'] / (med['plain'] + tf):.3f}   (target <= 1.10)")
    print(f"cache storage: {size / tokens:.1f} bytes per target token for k={a.topk} (limit {6 * a.topk})")


if __name__ == "__main__":
    sys.exit(main())
