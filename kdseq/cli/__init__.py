"""Thin command-line entry points (parser + main), exposed as console scripts by setup.py."""
import functools
import sys

from kdseq.errors import KdseqError


def user_errors(prog):
    """Decorate a ``main(argv)``: a KdseqError becomes one line on stderr and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv) or 0
            except KdseqError as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 2

        return run

    return wrap
