"""What a regeneration is asked to do: one frozen dataclass per concern. ``kdseq-regenerate`` builds them from its
flags; :func:`kdseq.seqkd.run.regenerate` takes a :class:`RegenerateConfig`.

Only :class:`Search` and the resolved backend and compute type change the hypotheses: they are recorded in
``state.json`` and a resume or another shard must match them. :class:`Runtime` (batching, threads) and
:class:`Work` (which chunks this run decodes) change speed only, :class:`Outputs` only what a merge writes."""
from dataclasses import asdict, dataclass, field
from typing import Optional, Tuple

from kdseq.search import Search  # noqa: F401  (a regeneration's beam search, as every decoder's)


@dataclass(frozen=True)
class Inputs:
    data: str                              # the binarized folder whose split the teacher translates
    out_dir: str                           # the regeneration folder (layout: kdseq/seqkd/__init__.py)
    teacher_path: Optional[str] = None     # checkpoint(s) joined by ':'; a merge needs none
    split: str = "train"
    teacher_data: Optional[str] = None     # the teacher's data folder, if it moved since training
    teacher_source: Optional[str] = None   # a binarized folder whose aligned sources the teacher reads
    other_sources: Tuple[str, ...] = ()    # other teachers' sources (aligned folders): written for the kept pairs


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

    def batch_limits(self, gpu, backend_name):
        """(max_tokens, max_sentences), defaults by device and decoder."""
        tokens = self.max_tokens or (16384 if gpu else 2048 if backend_name == "ctranslate2" else 4096)
        return tokens, self.max_sentences or (1024 if gpu else 256)

    def workers(self):
        import os

        return self.threads or os.cpu_count() or 1


@dataclass(frozen=True)
class Work:
    """Chunks and shards: the unit of resuming and of splitting the work between machines."""
    chunk_size: int = 2000
    num_shards: int = 1
    shard_id: int = 0
    merge: bool = False                    # decode nothing: join every shard's chunks (no teacher, no decoder)
    max_chunks: Optional[int] = None       # decode at most this many chunks, then stop
    progress: bool = True


@dataclass(frozen=True)
class Outputs:
    """What a merge writes: one folder per selector, the hypotheses that pass the filters."""
    select: Tuple[str, ...] = ("best",)
    max_len_ratio: float = 3.0
    max_repeats: int = 4
    keep_original: bool = False
    headline_ratio: float = 0.0

    def record(self):
        """The filter settings as regenerate.json keeps them."""
        d = asdict(self)
        d.pop("select")
        return d


@dataclass(frozen=True)
class RegenerateConfig:
    inputs: Inputs
    search: Search = field(default_factory=Search)
    runtime: Runtime = field(default_factory=Runtime)
    work: Work = field(default_factory=Work)
    outputs: Outputs = field(default_factory=Outputs)
