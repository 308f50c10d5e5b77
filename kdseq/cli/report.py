"""kdseq-report: combine kdseq-evaluate JSON results into one markdown table."""
import argparse

from kdseq.cli import user_errors
from kdseq.evaluate import load_results, markdown_table


@user_errors("kdseq-report")
def main(argv=None):
    p = argparse.ArgumentParser(prog="kdseq-report", description=__doc__)
    p.add_argument("results", nargs="+", help="JSON files written by kdseq-evaluate --output-dir")
    a = p.parse_args(argv)
    print(markdown_table(load_results(a.results)))


def cli_main():
    raise SystemExit(main())
