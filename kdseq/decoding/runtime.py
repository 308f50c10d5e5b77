"""Where and how a decoder runs: backend, device, compute type, batching, threads. None of it changes the
hypotheses except the backend and compute type, which a regeneration records once resolved."""
import os
from dataclasses import dataclass
from typing import Optional

from kdseq.errors import KdseqError


@dataclass(frozen=True)
class Runtime:
    """Which decoder, where, and how the work is batched. backend and compute_type, once resolved ('auto' ->
    'ctranslate2'/'float32' ...), are recorded in state.json; the rest changes speed only."""
    backend: str = "auto"                  # auto | ctranslate2 | fairseq
    device: str = "auto"                   # auto | cpu | cuda
    compute_type: str = "auto"
    max_tokens: Optional[int] = None       # padded source tokens per batch (None: by device and backend)
    max_sentences: Optional[int] = None
    threads: int = 0                       # 0: every core
    ct2_cache: Optional[str] = None

    def __post_init__(self):
        for flag, v, lo in (("--max-tokens", self.max_tokens, 1), ("--max-sentences", self.max_sentences, 1),
                            ("--threads", self.threads, 0)):
            if v is not None and v < lo:
                raise KdseqError(f"{flag} {v}: must be at least {lo}")

    def batch_limits(self, gpu, backend_name):
        """(max_tokens, max_sentences), defaults by device and decoder."""
        tokens = self.max_tokens or (16384 if gpu else 2048 if backend_name == "ctranslate2" else 4096)
        return tokens, self.max_sentences or (1024 if gpu else 256)

    def workers(self):
        return self.threads or os.cpu_count() or 1
