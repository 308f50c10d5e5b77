"""kdseq-filter: a quality filter on a distilled corpus. Every pair is scored, the worst share dropped, the rest
written as a new distilled corpus (a student trains on OUT/bin):

  kdseq-filter <regen>/best --out-dir <best-f5> --by teacher --filter-worst 0.05     # the teacher's own scores
  kdseq-filter <regen>/best --out-dir <best-b5> --by backward --backward-path B.pt --filter-worst 0.05

--by teacher reads the scores kdseq-regenerate recorded (the beam's length-normalised log-probability): no model
runs. --by backward runs B.pt (trained target -> source) once over the corpus and keeps its scores beside the
corpus, so a re-filter at another share runs no model either. Layout and rules: kdseq/seqkd/quality.py."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.seqkd.quality import FilterConfig, SIGNALS, filter_corpus


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-filter", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="a distilled corpus: a kdseq-regenerate selection (<out>/best, <out>/bleu), or a "
                                  "kdseq-combine or kdseq-filter output")
    p.add_argument("--out-dir", required=True, help="the filtered corpus (a new folder, or one kdseq-filter made)")
    p.add_argument("--by", choices=SIGNALS, default="teacher",
                   help="teacher: the teacher's length-normalised log-probability of its hypothesis (recorded by "
                        "kdseq-regenerate); backward: a backward model's cross-entropy of the source given the "
                        "hypothesis")
    p.add_argument("--filter-worst", type=float, default=0.05, metavar="F",
                   help="drop the worst-scored share F of the pairs (default 0.05; 0 keeps all and records the "
                        "scores)")
    p.add_argument("--backward-path", help="with --by backward: a fairseq checkpoint trained target -> source on "
                                           "the corpus's dictionaries")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="the backward model's device")
    p.add_argument("--threads", type=int, default=0, help="CPU threads of the backward pass (0: torch's default)")
    p.add_argument("--max-tokens", type=int, default=8192, help="padded tokens per batch of the backward pass")
    p.add_argument("--force", action="store_true", help="rebuild an --out-dir made from another input or settings")
    return p


@user_errors("kdseq-filter")
def main(argv=None):
    a = get_parser().parse_args(argv)
    counts = filter_corpus(FilterConfig(a.corpus, a.out_dir, a.by, a.filter_worst, a.backward_path, a.device,
                                        a.threads, a.max_tokens, a.force))
    if counts is None:
        print(f"kdseq-filter: {a.out_dir} is up to date (made from this corpus and these settings)")
        return 0
    print(json.dumps(counts, sort_keys=True))
    return 0


def cli_main():
    raise SystemExit(main())
