"""What a deployer asks beyond sentences per second: the latency of one sentence at batch 1 (median and 90th
percentile) and the peak memory of a process that serves the model.

Both are measured in a fresh Python process (``python -m kdseq.deployment``, the spec as JSON on stdin, the result
as JSON on stdout) that imports only its decoder (CTranslate2 never imports torch) and loads only the model: the
evaluating process has loaded fairseq's model and datasets, whose memory is not the deployed model's. The child
decodes the first ``sentences`` sentences of the split one at a time, in corpus order, after a warm-up of three,
at each beam size, timing each call (monotonic clock; on a GPU, synchronised). On CPU the decode runs on one core, as
a service with one worker per core runs it (for these small models also the fastest at batch 1: CTranslate2 int8
on two threads took ten times as long as on one). It reports:

- ``latency_ms``: {beam: [milliseconds of each sentence]}, from which the result keeps the median and the 90th
  percentile (numpy's linear interpolation);
- ``peak_rss_mb``: the process's peak resident memory (VmHWM), its imports included, as a service would
  need it; ``base_rss_mb``: its resident memory after the imports, before the model was loaded (their difference
  is what the model and its decoding add); on a GPU with the fairseq backend also ``peak_gpu_mb``
  (``torch.cuda.max_memory_allocated``).
"""
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, Tuple

import numpy as np

from kdseq.errors import KdseqError

WARMUP = 3


@dataclass(frozen=True)
class ProbeSpec:
    backend: str                          # fairseq | ctranslate2
    data: str                             # the binarized data folder (the split's sources, the dictionaries)
    split: str
    beams: Tuple[int, ...]
    sentences: int                        # the first N sentences of the split, one at a time
    path: Optional[str] = None            # fairseq: the checkpoint
    model_dir: Optional[str] = None       # ctranslate2: the converted model
    device: str = "cpu"
    compute_type: str = "float32"
    threads: int = 1                      # CPU threads of the one decode in flight (kdseq-evaluate: 1, a worker per
                                          # core; CTranslate2 int8 at batch 1 runs ~10x slower on 2 threads than on 1)
    search: dict = field(default_factory=dict)   # the Search fields (lenpen, max_len_a, ...), beam replaced
    max_positions: Tuple[int, int] = (1024, 1024)   # ctranslate2: the model's (source, target) positions


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb():
    """The peak resident memory of this address space (VmHWM). Not ``ru_maxrss``: Linux keeps that across exec, so
    a child of a large process would report its parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise KdseqError("/proc/self/status has no VmHWM: the memory probe needs Linux")


class _Loaded:
    """The shape of :class:`kdseq.teacher.Teacher` the fairseq backend needs: models already on their device."""

    def __init__(self, models):
        self.models = models

    def to(self, device, dtype=None):
        return self


def _backend(spec, corpus, search):
    """(backend, synchronise()) of the probe's decoder."""
    if spec.backend == "ctranslate2":
        from kdseq.decoding.backends import CTranslate2Backend

        corpus.set_max_source(spec.max_positions[0])
        return CTranslate2Backend(spec.model_dir, corpus, search, spec.device, spec.compute_type, spec.threads,
                                  spec.max_positions[1], latency=True), (lambda: None)
    import torch

    from kdseq.checkpoints import load_ensemble
    from kdseq.decoding.backends import FairseqBackend
    from kdseq.decoding.generator import max_positions

    torch.set_num_threads(spec.threads)
    models, _, _ = load_ensemble(spec.path, spec.data, device=spec.device, fp16=spec.compute_type == "float16")
    corpus.set_max_source(max_positions(models)[0])
    sync = torch.cuda.synchronize if spec.device.startswith("cuda") else (lambda: None)
    return FairseqBackend(_Loaded(models), corpus, search, spec.device, spec.compute_type == "float16"), sync


def probe(spec):
    """Run in the child process: the measurements of the module docstring, as a dict."""
    from dataclasses import replace

    from kdseq.decoding.corpus import Corpus
    from kdseq.decoding.search import Search

    if spec.backend == "ctranslate2":
        import ctranslate2  # noqa: F401  (the imports a CTranslate2 service has)
    else:
        import fairseq  # noqa: F401
    base = _rss_mb()
    corpus = Corpus(spec.data, spec.split)
    search = Search(**spec.search)
    backend, sync = _backend(spec, corpus, search)
    ids = list(range(min(spec.sentences, len(corpus))))
    out = {"base_rss_mb": round(base, 1), "latency_ms": {}, "sentences": len(ids)}
    for beam in spec.beams:
        backend.search = replace(search, beam=beam)
        if spec.backend == "fairseq":
            from kdseq.decoding.generator import build_generator

            backend.generator = build_generator(backend.models, corpus.teacher_task.target_dictionary,
                                                backend.search)
        for i in ids[:WARMUP]:
            list(backend.decode_batches([[i]]))
        times = []
        for i in ids:
            sync()
            t0 = time.perf_counter()
            list(backend.decode_batches([[i]]))
            sync()
            times.append(round((time.perf_counter() - t0) * 1000, 3))
        out["latency_ms"][str(beam)] = times
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    if spec.backend == "fairseq" and spec.device.startswith("cuda"):
        import torch

        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def run_probe(spec, timeout=3600):
    """Run :func:`probe` in a fresh process; returns its dict. A failure is a KdseqError naming its last line."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec.threads), MKL_NUM_THREADS=str(spec.threads))
    res = subprocess.run([sys.executable, "-m", "kdseq.deployment"], input=json.dumps(asdict(spec)),
                         capture_output=True, text=True, env=env, timeout=timeout)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise KdseqError(f"the latency and memory probe failed: {last} (--latency-sentences 0 skips it)")
    return json.loads(res.stdout.strip().splitlines()[-1])


def summarise(probe_out, beam):
    """The result's keys for one beam: latency median and p90 (ms), the sentences timed, peak memory (MB)."""
    times = np.asarray(probe_out["latency_ms"][str(beam)], dtype=np.float64)
    res = {"latency_sentences": int(len(times)),
           "latency_ms_p50": round(float(np.percentile(times, 50)), 3),
           "latency_ms_p90": round(float(np.percentile(times, 90)), 3),
           "peak_rss_mb": probe_out["peak_rss_mb"], "base_rss_mb": probe_out["base_rss_mb"]}
    if "peak_gpu_mb" in probe_out:
        res["peak_gpu_mb"] = probe_out["peak_gpu_mb"]
    return res


def main():
    spec = json.loads(sys.stdin.read())
    spec["beams"], spec["max_positions"] = tuple(spec["beams"]), tuple(spec["max_positions"])
    print(json.dumps(probe(ProbeSpec(**spec))))


if __name__ == "__main__":
    main()
