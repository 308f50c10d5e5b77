"""kdseq: knowledge distillation for fairseq sequence-to-sequence models.

Loaded by fairseq as a user dir (``--user-dir kdseq``) and installed editable so that ``import kdseq`` is the
same package everywhere. Importing kdseq does not import fairseq (seconds of start-up that a command decoding
with CTranslate2 does not need). kdseq's tasks and criterion are registered with fairseq as soon as both are
imported, in either order: at once when fairseq is already there (it loads kdseq as its user dir), otherwise
right after fairseq's own import (:class:`_RegisterAfterFairseq`).
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



def register():
    """Register word_kd, translation_kd and headline_kd with fairseq, and let fairseq's distributed training run on
    CPU processes (:mod:`kdseq.distributed`). Imports fairseq."""
    from kdseq import criterions, tasks  # noqa: F401  (imports fairseq: only once fairseq is there or wanted)
    from kdseq.distributed import patch_fairseq  # imports torch: likewise

    patch_fairseq()


class _RegisterAfterFairseq:
    """A finder that lets Python import fairseq as usual and registers kdseq's plugins right after it: whatever
    the order (``import kdseq`` first, then fairseq with ``--user-dir kdseq``, which then skips kdseq as already
    imported), fairseq never runs without them."""

    def find_spec(self, name, path=None, target=None):
        if name != "fairseq":
            return None
        import importlib.util

        sys.meta_path.remove(self)  # once; and find_spec below must not find this finder again
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            register()

        loader.exec_module = exec_module
        return spec

    def find_module(self, name, path=None):  # the old finder protocol: nothing
        return None


if "fairseq" in sys.modules:  # loaded by fairseq (--user-dir kdseq), or after it
    register()
elif not any(isinstance(f, _RegisterAfterFairseq) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterFairseq())
