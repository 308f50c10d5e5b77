"""Thin command-line entry points (parser + main), exposed as console scripts by setup.py."""
import functools
import logging
import sys
import warnings

from kdseq.errors import KdseqError


def user_errors(prog):
    """Decorate a ``main(argv)``: a KdseqError becomes one line on stderr and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            quiet_logs()
            try:
                return main(argv) or 0
            except KdseqError as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 2

        return run

    return wrap


def quiet_logs():
    """Warnings and errors only: fairseq logs every dataset load at INFO, torch warns about pin_memory on CPU."""
    # force: importing kdseq imports fairseq, which has already configured the root logger at INFO
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING, stream=sys.stderr,
                        force=True)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"hydra\..*")
    warnings.filterwarnings("ignore", message=r"\s*'config' is validated against ConfigStore")
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message=".*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD.*")
