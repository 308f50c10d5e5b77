"""Beam search settings, shared by every decoder kdseq drives (fairseq's SequenceGenerator, CTranslate2)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Search:
    """What changes the hypotheses: a regeneration records it in state.json and compares it on resume."""
    beam: int = 5
    nbest: int = 1
    lenpen: float = 1.0
    max_len_a: float = 1.2   # longest output: a * source length + b tokens
    max_len_b: int = 10
