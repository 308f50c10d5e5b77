"""What a regeneration is asked to do: one frozen dataclass per concern. ``kdseq-regenerate`` builds them from its
flags; :func:`kdseq.seqkd.run.regenerate` takes a :class:`RegenerateConfig`.

Only :class:`Search` and the resolved backend and compute type change the hypotheses: they are recorded in
``state.json`` and a resume or another shard must match them. :class:`Runtime` (batching, threads) and
:class:`Work` (which chunks this run decodes) change speed only, :class:`Outputs` only what a merge writes."""
import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Tuple

from kdseq.decoding.runtime import Runtime
from kdseq.decoding.search import Search
from kdseq.errors import KdseqError
from kdseq.seqkd import SELECTORS


@dataclass(frozen=True)
class Inputs:
    data: str                              # the binarized folder whose split the teacher translates
    out_dir: str                           # the regeneration folder (layout: kdseq/seqkd/__init__.py)
    teacher_path: Optional[str] = None     # checkpoint(s) joined by ':'; a merge needs none
    split: str = "train"
    teacher_data: Optional[str] = None     # the teacher's data folder, if it moved since training
    teacher_source: Optional[str] = None   # a binarized folder whose aligned sources the teacher reads
    other_sources: Tuple[str, ...] = ()    # other teachers' sources (aligned folders): written for the kept pairs

    def __post_init__(self):
        if self.other_sources and not self.teacher_source:
            raise KdseqError("other teachers' sources need --teacher-source (the one this teacher reads) first")

    @staticmethod
    def teacher_sources(spec):
        """(the source the teacher reads, other teachers' sources) of --teacher-source A[:B...]."""
        if not spec:
            return None, ()
        folders = spec.split(":")
        if not all(folders):
            raise KdseqError(f"--teacher-source {spec}: an empty folder name: give folders joined by ':'")
        return folders[0], tuple(folders[1:])


@dataclass(frozen=True)
class Work:
    """Chunks and shards: the unit of resuming and of splitting the work between machines."""
    chunk_size: int = 2000
    num_shards: int = 1
    shard_id: int = 0
    merge: bool = False                    # decode nothing: join every shard's chunks (no teacher, no decoder)
    max_chunks: Optional[int] = None       # decode at most this many chunks, then stop
    progress: bool = True
    restart: bool = False                  # a folder started with other settings is started over, not refused

    def __post_init__(self):
        for flag, v in (("--chunk-size", self.chunk_size), ("--num-shards", self.num_shards),
                        ("--max-chunks", self.max_chunks)):
            if v is not None and v < 1:
                raise KdseqError(f"{flag} {v}: must be at least 1")
        if not 0 <= self.shard_id < self.num_shards:
            raise KdseqError(f"--shard-id {self.shard_id}: must lie in [0, {self.num_shards - 1}] for --num-shards "
                             f"{self.num_shards}")


@dataclass(frozen=True)
class Outputs:
    """What a merge writes: one folder per selector, the hypotheses that pass the filters."""
    select: Tuple[str, ...] = ("best",)
    max_len_ratio: float = 3.0
    max_repeats: int = 4
    keep_original: bool = False
    headline_ratio: float = 0.0

    def __post_init__(self):
        for s in self.select:
            if s not in SELECTORS:
                raise KdseqError(f"--select {s}: choose from {', '.join(SELECTORS)}")
        for flag, v in (("--max-len-ratio", self.max_len_ratio), ("--headline-ratio", self.headline_ratio)):
            if not math.isfinite(v) or v < 0:
                raise KdseqError(f"{flag} {v}: must be a finite number >= 0")
        if self.max_repeats < 0:
            raise KdseqError(f"--max-repeats {self.max_repeats}: must be >= 0")

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

    def __post_init__(self):
        if not self.inputs.teacher_path and not self.work.merge:
            raise KdseqError("--teacher-path is required (only --merge does without a teacher)")
        if any(s != "best" for s in self.outputs.select) and self.search.nbest == 1 and not self.work.merge:
            # a merge selects among the n-best that state.json records
            raise KdseqError(f"--select {','.join(self.outputs.select)}: seq-inter picks among n-best hypotheses; "
                             "give --nbest > 1 (e.g. --nbest 5)")
