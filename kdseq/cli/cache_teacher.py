"""kdseq-cache-teacher: store a teacher's top-k distribution for every target token of binarized splits.

On several machines or GPUs: run it with --num-shards N --shard-id I (I = 0..N-1, same data and --max-tokens),
then once with --num-shards N --merge (no teacher needed); the merged cache equals an unsharded one."""
import argparse
import json

import torch

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


@user_errors("kdseq-cache-teacher")
def main(argv=None):
    from kdseq import cache
    from kdseq.checkpoints import translation_task
    from kdseq.errors import KdseqError
    from kdseq.fileio import inside
    from kdseq.teacher import Teacher

    a = get_parser().parse_args(argv)
    cache.check_unsharded(a.data)
    if a.topk < 1:
        raise KdseqError(f"--topk {a.topk}: must be at least 1")
    if inside(a.out_dir, a.data) or inside(a.data, a.out_dir):
        raise KdseqError(f"--out-dir {a.out_dir} and the data {a.data} overlap: put the cache outside the data folder "
                         "(the input is never written to)")
    if a.num_shards < 1 or not 0 <= a.shard_id < a.num_shards:
        raise KdseqError(f"--num-shards {a.num_shards} --shard-id {a.shard_id}: need N >= 1 and 0 <= I < N")
    if a.merge == bool(a.teacher_path):
        raise KdseqError("give --teacher-path to compute (a shard of) the cache, or --merge without it to join shards")
    task = translation_task(a.data, "headline_kd", extra_args=["--teacher-source-data", a.teacher_source_data]) \
        if a.teacher_source_data else translation_task(a.data)
    splits = [x for x in a.splits.split(",") if x]
    if a.teacher_source_data and ":" in a.teacher_source_data:
        raise KdseqError(f"--teacher-source-data {a.teacher_source_data}: a cache holds one teacher source's "
                         "distributions: give one folder (teachers reading their own sources are run online, "
                         "fairseq-train --task headline_kd --teacher-path a.pt:b.pt --teacher-source-data A:B)")
    if a.merge:
        for split in splits:
            meta = cache.merge_shards(task, split, a.out_dir, a.num_shards)
            meta.pop("fingerprint")
            print(json.dumps(meta))
        return 0
    own = getattr(task, "teacher_source_dictionary", None)
    teacher = Teacher(a.teacher_path, task, a.teacher_data,
                      source_dict=(own, task.teacher_dict_file) if own is not None else None)
    device = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    job = cache.CacheJob(a.topk, a.out_dir, a.max_tokens, device, a.num_shards, a.shard_id)
    for split in splits:
        meta = cache.build_shard(teacher, task, split, job) if a.num_shards > 1 else cache.build(teacher, task, split,
                                                                                                 job)
        meta.pop("fingerprint")
        print(json.dumps(meta))


def cli_main():
    raise SystemExit(main())
