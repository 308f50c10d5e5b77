"""kdseq-combine: the union of distilled corpora (kdseq-regenerate selections, e.g. one per teacher) as one
training corpus for a seq-KD student: OUT/bin (train: the inputs in order; dictionaries, valid and test: the first
input's), OUT/text, OUT/raw and OUT/combine.json (every input's record and sha256). A rerun with the same inputs
does nothing; other inputs are refused (--force rebuilds)."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.seqkd.combine import combine


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-combine", description=__doc__)
    p.add_argument("--inputs", nargs="+", required=True, metavar="DIR",
                   help="kdseq-regenerate selections (<out>/best, <out>/bleu), kdseq-combine or kdseq-filter outputs, "
                        "made with one dictionary; the first one's valid and test splits are kept")
    p.add_argument("--out-dir", required=True, help="the union (a new folder, or one kdseq-combine made)")
    p.add_argument("--force", action="store_true", help="rebuild an --out-dir made from other inputs")
    return p


@user_errors("kdseq-combine")
def main(argv=None):
    a = get_parser().parse_args(argv)
    record = combine(a.inputs, a.out_dir, force=a.force)
    if record is None:
        print(f"kdseq-combine: {a.out_dir} is up to date (made from these inputs)")
        return 0
    print(json.dumps({"out_dir": a.out_dir, "pairs": record["pairs"], "pairs_written": record["pairs_written"]}))
    return 0


def cli_main():
    raise SystemExit(main())
