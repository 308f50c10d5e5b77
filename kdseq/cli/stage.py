"""kdseq-stage: the rerun record of a recipe's shell stage (a trained model, a regeneration), kept in
DIR/kdseq-stage.json and compared as kdseq-prepare compares its prepare.json.

  kdseq-stage check DIR KEY=VALUE...    exit 0: DIR was made with exactly these settings (nothing to do);
                                        1: no record yet (run the stage); 2: made with other settings (refused)
  kdseq-stage record DIR KEY=VALUE...   the stage is done: record its settings
"""
import argparse
import os

from kdseq.cli import user_errors
from kdseq.errors import KdseqError
from kdseq.manifest import check_rerun, write_record

RECORD = "kdseq-stage.json"


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-stage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["check", "record"])
    p.add_argument("dir", help="the stage's output folder")
    p.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="what the stage was run with")
    p.add_argument("--fix", default="remove that folder to redo it, or give another WORK=...",
                   help="what the refusal tells the user to do")
    return p


def parse_settings(items):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KdseqError(f"{item!r}: give settings as KEY=VALUE")
        out[key] = value
    return out


@user_errors("kdseq-stage")
def main(argv=None):
    a = get_parser().parse_args(argv)
    settings = parse_settings(a.settings)
    path = os.path.join(a.dir, RECORD)
    if a.action == "record":
        if not os.path.isdir(a.dir):
            raise KdseqError(f"{a.dir}: no such folder: the stage has not made it")
        write_record(path, {"settings": settings, "inputs": {}})
        return 0
    done = check_rerun(path, settings, {}, flag=None, fix=a.fix, flags=False)  # refused: exit 2 (user_errors)
    return 0 if done else 1


def cli_main():
    raise SystemExit(main())
