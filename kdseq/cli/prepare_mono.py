"""kdseq-prepare-mono: plain source-language text -> a binarized source-only split, encoded with a kdseq-prepare
output's sentencepiece model and dictionary, for the teacher to translate (forward translation):

  kdseq-prepare-mono mono.en --like <prepared> --out-dir <mono>
  kdseq-regenerate <mono>/bin --teacher-path T.pt --out-dir <regen-mono>       # seq-KD pairs: <regen-mono>/best
  kdseq-combine --inputs <regen>/best <regen-mono>/best --out-dir <both>       # with the regenerated parallel data

Lines that are empty, repeated, a source of the preparation's held-out splits or of its training split, or longer
than its --max-len are dropped and counted (prepare-mono.json)."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.data.monolingual import MonoConfig, prepare_mono


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-prepare-mono", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", help="plain text in the source language, one sentence a line (UTF-8)")
    p.add_argument("--like", required=True, help="the kdseq-prepare output whose sentencepiece model, dictionary and "
                                                 "held-out splits apply (the folder holding bin/ and spm.model)")
    p.add_argument("--out-dir", required=True, help="output folder (created atomically)")
    p.add_argument("--max-lines", type=int, help="keep at most this many lines (the first ones that pass)")
    p.add_argument("--keep-train-sources", action="store_true",
                   help="keep lines that are sources of the preparation's training split (dropped by default: "
                        "the teacher translates them already)")
    p.add_argument("--force", action="store_true", help="rebuild an --out-dir made from other inputs or settings")
    return p


@user_errors("kdseq-prepare-mono")
def main(argv=None):
    a = get_parser().parse_args(argv)
    counts = prepare_mono(MonoConfig(a.text, a.like, a.out_dir, a.max_lines, a.keep_train_sources, a.force))
    print(json.dumps(counts, sort_keys=True))


def cli_main():
    raise SystemExit(main())
