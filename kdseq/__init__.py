"""kdseq: knowledge distillation for fairseq sequence-to-sequence models.

Loaded by fairseq as a user dir (``--user-dir kdseq``; fairseq itself imports ``tasks/`` and ``models/``,
criterions are imported here) and installed editable so that ``import kdseq`` is the same package everywhere.
"""
import logging
import os
import sys

from kdseq.checkpoints import allow_fairseq_checkpoints
from kdseq.errors import KdseqError

# fairseq checkpoints are pickles of Namespace/omegaconf objects: torch >= 2.6 refuses them by default.
allow_fairseq_checkpoints()
# importing fairseq imports every task; the text-to-speech one logs "Please install tensorboardX" at INFO
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)


def _user_errors_in_one_line(previous):
    """In fairseq's own commands (fairseq-train --user-dir kdseq ...) a KdseqError that nothing caught is a
    user mistake: print its message as one line (no traceback) and exit with status 2, as kdseq's CLIs do."""

    def hook(kind, value, tb):
        if isinstance(value, KdseqError):
            prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "kdseq"
            print(f"{prog}: error: {value}", file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(2)
        previous(kind, value, tb)

    return hook


if not getattr(sys.excepthook, "_kdseq", False):
    sys.excepthook = _user_errors_in_one_line(sys.excepthook)
    sys.excepthook._kdseq = True

from kdseq import criterions, tasks  # noqa: E402,F401  (registers word_kd, translation_kd)
