"""Thin command-line entry points (parser + main), exposed as console scripts by setup.py."""
import functools
import logging
import os
import sys
import warnings

from kdseq.errors import KdseqError


def user_errors(prog):
    """Decorate a ``main(argv)``: a KdseqError becomes one line on stderr and exit status 2."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            quiet_logs(prog)
            try:
                return main(argv) or 0
            except KdseqError as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:  # Ctrl-C: no traceback; outputs are staged, so nothing half-written stays
                print(f"{prog}: interrupted; nothing partial was kept (a regeneration resumes from its last "
                      "chunk): rerun the same command", file=sys.stderr)
                return 130
            except BrokenPipeError:  # `kdseq-report ... | head`: the reader left; stop quietly, as cat does
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
                return 1

        return run

    return wrap


def quiet_logs(prog="kdseq"):
    """Warnings and errors only from fairseq (it logs every dataset load at INFO) and torch (pin_memory on CPU);
    kdseq's own library messages (logging, INFO and up) are printed as ``prog: message``."""
    # force: importing kdseq imports fairseq, which has already configured the root logger at INFO
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING, stream=sys.stderr,
                        force=True)
    kd = logging.getLogger("kdseq")
    kd.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: %(message)s"))
    kd.addHandler(handler)
    kd.setLevel(logging.INFO)
    kd.propagate = False
    warnings.filterwarnings("ignore", category=UserWarning, module=r"hydra\..*")
    warnings.filterwarnings("ignore", message=r"\s*'config' is validated against ConfigStore")
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message=".*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD.*")
