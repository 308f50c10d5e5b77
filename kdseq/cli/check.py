"""kdseq-check: does a stage's model do its job? One line per finding: what was seen and what to try.

  kdseq-check teacher --train-log LOG [--result teacher.test.beam5.json --min-bleu 3] [--name teacher-mt]
  kdseq-check regeneration --counts OUT/best/regenerate.json [--max-dropped 0.5]
  kdseq-check outputs RESULT.json...          # models that write the same output for most inputs, or loop

Findings go to stderr and, with --out FILE, to FILE (an empty FILE: nothing found). --on-problem stop: a finding
ends the command with exit status 3 (the workflow stops there) and FILE is not written; warn: exit 0.
"""
import argparse
import sys

from kdseq import checks
from kdseq.cli import user_errors
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["teacher", "regeneration", "outputs"])
    p.add_argument("results", nargs="*", help="outputs: kdseq-evaluate's JSON results")
    p.add_argument("--train-log", help="teacher: its fairseq-train log")
    p.add_argument("--result", help="teacher: its kdseq-evaluate JSON result (beam 5), for --min-bleu")
    p.add_argument("--name", default="teacher", help="teacher: what the findings call it")
    p.add_argument("--min-bleu", type=float, default=3.0)
    p.add_argument("--counts", help="regeneration: <out>/best/regenerate.json")
    p.add_argument("--max-dropped", type=float, default=0.5, help="largest share of the teacher's outputs dropped")
    p.add_argument("--on-problem", choices=["stop", "warn"], default="warn")
    p.add_argument("--out", help="write the findings here (one per line)")
    return p


def findings(a, parser):
    if a.what == "teacher":
        if not a.train_log:
            parser.error("teacher needs --train-log")
        try:
            with open(a.train_log, encoding="utf-8", errors="replace") as f:
                log_text = f.read()
        except OSError as e:
            raise KdseqError(f"--train-log {a.train_log}: {e.strerror}") from None
        result = checks.read_json(a.result, "the teacher's result") if a.result else None
        return checks.teacher(log_text, result, a.min_bleu, a.name)
    if a.what == "regeneration":
        if not a.counts:
            parser.error("regeneration needs --counts")
        return checks.regeneration(checks.read_json(a.counts, "the regeneration's counts"), a.max_dropped)
    return [line for path in a.results for line in checks.outputs(checks.read_json(path, "a result"))]


@user_errors("kdseq-check")
def main(argv=None):
    parser = get_parser()
    a = parser.parse_args(argv)
    found = findings(a, parser)
    if found and a.on_problem == "stop":  # one line: the workflow shows a failed job's last line
        print(f"kdseq-check: error: {'; and '.join(found)} (to go on regardless: checks: warn)", file=sys.stderr)
        return 3
    for line in found:
        print(f"kdseq-check: warning: {line}", file=sys.stderr)
    if a.out:
        atomic_write(a.out, "".join(f"{line}\n" for line in found))
    return 0


def cli_main():
    raise SystemExit(main())
