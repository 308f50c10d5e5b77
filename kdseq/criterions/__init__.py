"""kdseq's criterions (fairseq imports only tasks/ and models/ of a user dir: kdseq/__init__.py imports this)."""
from kdseq.criterions import word_kd  # noqa: F401  (registers --criterion word_kd)
