"""kdseq's tasks. fairseq imports a user dir's tasks/ itself, but not when the package was imported first (as
kdseq's own commands do), so they are registered here too."""
from kdseq.tasks import headline_kd, translation_kd  # noqa: F401  (registers --task headline_kd, translation_kd)
