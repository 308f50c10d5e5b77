"""kdseq-cache-teacher: store a teacher's top-k distribution for every target token of binarized splits."""
import argparse
import json

import torch

from kdseq.cli import user_errors


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-cache-teacher", description=__doc__)
    p.add_argument("data", help="the student's binarized data folder")
    p.add_argument("--teacher-path", required=True, help="teacher checkpoint, or several joined by ':'")
    p.add_argument("--teacher-data", help="the teacher's data folder, if it moved since training (dictionary)")
    p.add_argument("--splits", default="train,valid", help="comma-separated splits to cache")
    p.add_argument("--topk", type=int, default=8, help="tokens kept per position (6*k bytes per target token)")
    p.add_argument("--out-dir", required=True, help="cache folder (give it to word_kd as --teacher-cache)")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--cpu", action="store_true")
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
    task = translation_task(a.data)
    teacher = Teacher(a.teacher_path, task, a.teacher_data)
    device = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    for split in [x for x in a.splits.split(",") if x]:
        meta = cache.build(teacher, task, split, a.topk, a.out_dir, a.max_tokens, device)
        meta.pop("fingerprint")
        print(json.dumps(meta))


def cli_main():
    raise SystemExit(main())
