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
    no_repeat_ngram_size: int = 0  # > 0: no n-gram of pieces twice in an output (loop control at decoding)

    def record(self):
        """The fields a regeneration's state.json compares on resume (no_repeat_ngram_size only when set, so that
        states written before the field existed still match)."""
        from dataclasses import asdict

        return {k: v for k, v in asdict(self).items() if k != "no_repeat_ngram_size" or v}
