"""kdseq: knowledge distillation for fairseq sequence-to-sequence models.

Loaded by fairseq as a user dir (``--user-dir kdseq``; fairseq itself imports ``tasks/`` and ``models/``,
criterions are imported here) and installed editable so that ``import kdseq`` is the same package everywhere.
"""
from kdseq.checkpoints import allow_fairseq_checkpoints

# fairseq checkpoints are pickles of Namespace/omegaconf objects: torch >= 2.6 refuses them by default.
allow_fairseq_checkpoints()

from kdseq import criterions, tasks  # noqa: E402,F401  (registers word_kd and translation_kd)
