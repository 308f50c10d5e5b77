"""kdseq-cache-teacher: store a teacher's top-k distribution for every target token of binarized splits.

On several machines or GPUs: run it with --num-shards N --shard-id I (I = 0..N-1, same data and --max-tokens),
then once with --num-shards N --merge (no teacher needed); the merged cache equals an unsharded one."""
import argparse
import json

import torch

from kdseq import cache
from kdseq.cli import user_errors


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-cache-teacher", description=__doc__)
    p.add_argument("data", help="the student's binarized data folder")
    p.add_argument("--teacher-path", help="teacher checkpoint, or several joined by ':' (not with --merge)")
    p.add_argument("--teacher-data", help="the teacher's data folder, if it moved since training (dictionary)")
    p.add_argument("--teacher-source-data", help="the teacher reads this folder's sources, aligned line by line with "
                                                 "the data (--task headline_kd; e.g. <regenerated>/best/bin-teacher)")
    p.add_argument("--splits", default="train,valid", help="comma-separated splits to cache")
    p.add_argument("--topk", type=int, default=8, help="tokens kept per position (6*k bytes per target token)")
    p.add_argument("--out-dir", required=True, help="cache folder (give it to word_kd as --teacher-cache)")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--cpu", action="store_true")
    p.add_argument("--num-shards", type=int, default=1, help="split the work into N shards (one process each)")
    p.add_argument("--shard-id", type=int, default=0, help="which shard this process computes (0..N-1)")
    p.add_argument("--merge", action="store_true", help="join the N shards of each split into the cache")
    return p


def build_request(a):
    """The :class:`kdseq.cache.CacheRequest` of parsed flags (it checks its values)."""
    device = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    job = cache.CacheJob(a.topk, a.out_dir, a.max_tokens, device, a.num_shards, a.shard_id)
    return cache.CacheRequest(a.data, job, tuple(x for x in a.splits.split(",") if x), a.teacher_path,
                              a.teacher_data, a.teacher_source_data, a.merge)


@user_errors("kdseq-cache-teacher")
def main(argv=None):
    for meta in cache.run(build_request(get_parser().parse_args(argv))):
        print(json.dumps(meta))


def cli_main():
    raise SystemExit(main())
