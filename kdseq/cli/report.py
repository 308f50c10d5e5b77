"""kdseq-report: combine kdseq-evaluate JSON results into one markdown table."""
import argparse

from kdseq.cli import user_errors
from kdseq.errors import KdseqError
from kdseq.plot import plot
from kdseq.report import HEADLINE_COLUMNS, load_results, markdown_table, seed_summary


@user_errors("kdseq-report")
def main(argv=None):
    p = argparse.ArgumentParser(prog="kdseq-report", description=__doc__)
    p.add_argument("results", nargs="+", help="JSON files written by kdseq-evaluate --output-dir")
    p.add_argument("--plot", metavar="FILE", help="also draw BLEU against sentences/s (log) to FILE (.png, .svg, .pdf):"
                                                  " teachers and students marked apart, the Pareto front joined")
    p.add_argument("--headline", action="store_true", help="headline columns: ROUGE-1/2/L F1 first, the test set")
    a = p.parse_args(argv)
    results = load_results(a.results)
    if a.plot:
        import os

        if os.path.splitext(a.plot)[1].lower() not in (".png", ".svg", ".pdf"):
            raise KdseqError(f"--plot {a.plot}: give a .png, .svg or .pdf file name")
        try:
            plot(results, a.plot)
        except OSError as e:
            raise KdseqError(f"--plot {a.plot}: cannot write it ({e.strerror})") from None
    columns = HEADLINE_COLUMNS if a.headline else None
    if a.headline:
        for path, r in zip(a.results, results):
            missing = [k for k, _, _ in HEADLINE_COLUMNS if k not in r and k not in ("distinct", "loops")]
            if missing:
                raise KdseqError(f"{path}: has no {', '.join(missing)} (a result written before kdseq-evaluate "
                                 "scored ROUGE-1/2): evaluate the model again, or drop --headline")
    print(markdown_table(results, columns))
    seeds = None if a.headline else seed_summary(results)
    if seeds:
        print(f"\n## Over seeds\n\n{seeds}")


def cli_main():
    raise SystemExit(main())
