"""The one decoding configuration: how every decoder kdseq drives (fairseq's SequenceGenerator, CTranslate2)
searches, for evaluation (``kdseq-evaluate``), regeneration (``kdseq-regenerate``) and the student's own samples
(``--kd-on-policy``)."""
import math
from dataclasses import asdict, dataclass, fields

from kdseq.errors import KdseqError

# Fields added after regenerations had recorded their settings: recorded only when they differ from their
# default, so that a state.json written before they existed still matches a resume with the default.
_RECORDED_WHEN_SET = {"no_repeat_ngram_size": 0, "sampling": False, "temperature": 1.0}


@dataclass(frozen=True)
class Search:
    """What changes the hypotheses. A regeneration records every field in state.json and a resume must match it
    (:data:`RECORD_KEYS`). Checked on construction: a bad value is one line naming its flag."""
    beam: int = 5
    nbest: int = 1
    lenpen: float = 1.0
    max_len_a: float = 1.2   # longest output: a * source length + b tokens
    max_len_b: int = 10
    no_repeat_ngram_size: int = 0  # > 0: no n-gram of pieces twice in an output (loop control at decoding)
    sampling: bool = False   # sample from the full distribution instead of beam search (beam 1)
    temperature: float = 1.0

    def __post_init__(self):
        for flag, v in (("--beam", self.beam), ("--nbest", self.nbest)):
            if v < 1:
                raise KdseqError(f"{flag} {v}: must be at least 1")
        if self.nbest > self.beam:
            raise KdseqError(f"--nbest {self.nbest} is larger than --beam {self.beam}: beam search keeps only "
                             "--beam hypotheses")
        if not math.isfinite(self.lenpen):
            raise KdseqError(f"--lenpen {self.lenpen}: must be a finite number")
        check_max_len(self.max_len_a, self.max_len_b)
        if self.no_repeat_ngram_size < 0 or self.no_repeat_ngram_size == 1:
            # fairseq's CPU n-gram blocker compares tokens[-(n - 1):], the whole output for n = 1
            raise KdseqError(f"--no-repeat-ngram-size {self.no_repeat_ngram_size}: give 0 (none) or 2 and more")
        if not math.isfinite(self.temperature) or self.temperature <= 0:
            raise KdseqError(f"--kd-sample-temperature {self.temperature}: must be a finite number > 0")
        if self.sampling and self.beam != 1:
            raise KdseqError(f"sampling draws one hypothesis per sentence: beam {self.beam} must be 1")

    def record(self):
        """The fields a regeneration's state.json keeps and compares on resume."""
        return {k: v for k, v in asdict(self).items() if k not in _RECORDED_WHEN_SET or v != _RECORDED_WHEN_SET[k]}


RECORD_KEYS = tuple(f.name for f in fields(Search))


def check_max_len(a, b, prefix=""):
    """The longest output, ``a`` * source length + ``b`` tokens, can hold a token (``prefix``: of the flags' names)."""
    if not math.isfinite(a) or a < 0 or b < 0 or (a == 0 and b < 1):
        raise KdseqError(f"--{prefix}max-len-a {a} --{prefix}max-len-b {b}: give a >= 0 and b >= 0, not both 0")
