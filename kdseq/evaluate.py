"""Evaluate a checkpoint (or ensemble) on a binarized split at several beam sizes: quality, speed, size.

One result (a flat dict, written as JSON) per decode; :func:`kdseq.report.markdown_table` puts any number of them side by
side. Used by ``kdseq-evaluate`` and ``kdseq-report``.
"""
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Optional, Tuple

import torch

from kdseq import deployment, metrics
from kdseq.checkpoints import count_parameters, load_ensemble
from kdseq.decoding.backends import Checkpoint, CT2Unavailable, ctranslate2_backend, decode_all
from kdseq.decoding.corpus import Corpus
from kdseq.decoding.ct2 import CT2_CUBLAS, ct2_cuda_available
from kdseq.decoding.generator import decode_split, max_positions
from kdseq.decoding.runtime import Runtime
from kdseq.decoding.search import Search, check_max_len
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write, file_sha256
from kdseq.text import ids_to_text

log = logging.getLogger(__name__)


def read_references(path, expected):
    """One reference per line, lines split at LF only (a stray CR inside a line must not shift the rest)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            refs = [line.rstrip("\r") for line in f.read().split("\n")]
    except FileNotFoundError:
        raise KdseqError(f"--reference {path}: no such file") from None
    except UnicodeDecodeError as e:
        raise KdseqError(f"--reference {path}: not UTF-8 ({e.reason} at byte {e.start}): convert it to UTF-8") from None
    if refs and refs[-1] == "":
        refs.pop()
    if len(refs) != expected:
        raise KdseqError(f"--reference {path} has {len(refs)} lines but the split has {expected} sentences: "
                         "give the reference file of this split")
    return refs


def default_reference(data_dir, split, tgt_lang):
    """kdseq-prepare keeps the clean text next to the binarized folder: <data>/../raw/<split>.<tgt>."""
    path = os.path.join(os.path.dirname(os.path.abspath(data_dir.rstrip("/"))), "raw", f"{split}.{tgt_lang}")
    return path if os.path.exists(path) else None


def ct2_decoder(cfg, models, device):
    """(decode(beam) -> (texts, stats), compute type, device, {model_dir, max_positions}: what the latency probe
    opens) with the checkpoint converted to CTranslate2 (cached by its sha256), decoding the same pieces in corpus
    order: how a student would be deployed."""
    dcr = cfg.decoder
    corpus = Corpus(cfg.data, cfg.split)
    max_source, max_target = max_positions(models)
    corpus.set_max_source(max_source)
    dev = "cuda" if device.startswith("cuda") else "cpu"
    if dev == "cuda" and not ct2_cuda_available():
        log.warning(f"CTranslate2 cannot decode on this GPU (no GPU for it, or no {CT2_CUBLAS}): it decodes on the CPU")
        dev = "cpu"
    runtime = Runtime("ctranslate2", dev, dcr.compute_type, threads=dcr.threads)
    checkpoint = Checkpoint(cfg.path, file_sha256(cfg.path), cfg.data, (corpus.src_lang, corpus.tgt_lang))
    try:
        backend, info = ctranslate2_backend(checkpoint, corpus, cfg.search, runtime, max_target)
    except CT2Unavailable as e:
        raise KdseqError(f"--backend ctranslate2: {e}") from None
    sym, ids = corpus.tgt_dict.symbols, list(range(len(corpus)))

    def decode(beam):
        backend.search = replace(cfg.search, beam=beam)
        start = time.perf_counter()
        out = decode_all(backend, ids, corpus.lengths, 1024 if dev == "cpu" else 4096, 256)
        wall = time.perf_counter() - start
        best = [out[i][0][0] if out[i][0] else [] for i in ids]
        texts = [ids_to_text(h, sym) for h in best]
        return texts, {"sentences": len(ids), "target_tokens": sum(len(h) + 1 for h in best), "wall_s": wall,
                       "truncated_sources": corpus.truncated}

    return decode, backend.compute_type, info["device"], {"model_dir": info["model_dir"],
                                                          "max_positions": (max_source, max_target)}


def decoding_task(task):
    """The plain translation task of a checkpoint trained with kdseq's training tasks: decoding reads the data's
    sources only (a headline_kd student needs no teacher source to be evaluated)."""
    from fairseq.tasks.translation import TranslationTask

    if isinstance(task, TranslationTask) and type(task) is not TranslationTask:
        return TranslationTask(task.cfg, task.src_dict, task.tgt_dict)
    return task


class Pipeline:
    """A second model that reads the first one's output (e.g. translate, then write a headline): its hypotheses,
    mapped piece by piece into the second model's source dictionary, become a split of the second model's task."""

    def __init__(self, path_spec, data_dir, device, fp16):
        self.models, task, _ = load_ensemble(path_spec, data_dir, flag="--then", device=device, fp16=fp16)
        self.task = decoding_task(task)
        self.path_spec = path_spec

    def decode(self, first_dict, first_hyps, search, batching, device):
        """The second model's hypotheses for the first one's (``search``: a :class:`Search`, ``batching``: a
        :class:`Batching`)."""
        from fairseq.data import LanguagePairDataset  # imports fairseq (already loaded with the models)

        src_dict = self.task.source_dictionary
        srcs = [torch.LongTensor([src_dict.index(first_dict[t]) for t in h[0]["tokens"]] + [src_dict.eos()])
                for h in first_hyps]
        self.task.datasets["pipeline"] = LanguagePairDataset(srcs, [len(s) for s in srcs], src_dict,
                                                             left_pad_source=self.task.cfg.left_pad_source)
        return decode_split(self.task, self.models, "pipeline", search, device, batching.max_tokens,
                            batching.batch_size)


@dataclass(frozen=True)
class Batching:
    """How the fairseq backend batches the split (speed only)."""
    max_tokens: int = 4096
    batch_size: Optional[int] = None

    def __post_init__(self):
        if self.max_tokens < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise KdseqError("--max-tokens and --batch-size must be at least 1")


@dataclass(frozen=True)
class Decoder:
    """Which decoder runs the checkpoint, and where."""
    backend: str = "fairseq"              # fairseq | ctranslate2 (the checkpoint converted, as deployed)
    device: Optional[str] = None          # None: cuda if present, else cpu
    fp16: bool = False
    compute_type: str = "auto"            # CTranslate2: float32, int8, ...
    threads: int = 0                      # CTranslate2 on CPU: one-core translators side by side (0: all cores)

    def __post_init__(self):
        if self.threads < 0:
            raise KdseqError(f"--threads {self.threads}: must be >= 0")
        if self.backend == "fairseq" and self.compute_type not in ("auto", "float32", "float16"):
            raise KdseqError(f"--compute-type {self.compute_type}: the fairseq backend decodes in float32 (or --fp16); "
                             "use --backend ctranslate2 for int8")


@dataclass(frozen=True)
class PipelineSpec:
    """A second model that reads the first one's output (e.g. translate, then write a headline)."""
    then: str                             # its checkpoint (or ensemble)
    then_data: Optional[str] = None       # its data folder (dictionaries)
    first_max_len: Tuple[float, int] = (1.2, 10)   # (a, b): the first model's longest output

    def __post_init__(self):
        check_max_len(*self.first_max_len, prefix="first-")


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: every decode searches as ``search`` does, at each of ``beams`` (``search.beam`` is
    replaced); the length limits bound the (last) model's output."""
    path: str                             # checkpoint, or several joined by ':'
    data: str                             # binarized data folder
    split: str = "test"
    beams: Tuple[int, ...] = (1, 5)
    reference: Optional[str] = None       # default: <data>/../raw/<split>.<tgt>
    name: Optional[str] = None            # default: the checkpoint's folder name
    output_dir: Optional[str] = None
    search: Search = field(default_factory=Search)
    batching: Batching = field(default_factory=Batching)
    decoder: Decoder = field(default_factory=Decoder)
    pipeline: Optional[PipelineSpec] = None
    latency_sentences: int = 100          # batch-1 latency and peak memory over this many sentences (0: not measured)

    def __post_init__(self):
        if self.latency_sentences < 0:
            raise KdseqError(f"--latency-sentences {self.latency_sentences}: give 0 (not measured) or more")
        if not self.beams or any(b < 1 for b in self.beams):
            raise KdseqError(f"--beams {','.join(map(str, self.beams))}: beam sizes must be >= 1")
        if self.decoder.backend == "ctranslate2" and ":" in self.path:
            raise KdseqError("--backend ctranslate2 decodes one checkpoint, not an ensemble: use --backend fairseq")
        if self.pipeline and self.decoder.backend != "fairseq":
            raise KdseqError("--then (a pipeline of two models) decodes with --backend fairseq")

    def searches(self, beam):
        """The :class:`Search` of the first model and of the pipeline's second (None without one) at ``beam``."""
        last = replace(self.search, beam=beam)
        if self.pipeline is None:
            return last, None
        a, b = self.pipeline.first_max_len
        return replace(last, max_len_a=a, max_len_b=b), last


def load_split(cfg, device):
    """(models, task, references, reference file) for ``cfg``: the split loaded, too long sources left to the
    decoders to cut."""
    if not os.path.isdir(cfg.data):
        raise KdseqError(f"DATA {cfg.data}: no such folder: give kdseq-prepare's <out-dir>/bin")
    models, task, _ = load_ensemble(cfg.path, cfg.data, device=device, fp16=cfg.decoder.fp16)
    task = decoding_task(task)
    try:
        task.load_dataset(cfg.split)
    except FileNotFoundError as e:
        raise KdseqError(f"--split {cfg.split}: not found in {cfg.data}: {e}") from e
    n = len(task.dataset(cfg.split))
    reference = cfg.reference or default_reference(cfg.data, cfg.split, task.cfg.target_lang)
    if reference:
        refs = read_references(reference, n)
    else:
        log.warning(f"warning: no --reference and no raw/{cfg.split}.{task.cfg.target_lang} beside {cfg.data}; "
                    "scoring against the binarized target (unknown words become <unk>)")
        ds = task.dataset(cfg.split)
        refs = [ids_to_text(ds.tgt[i][:-1].tolist(), task.target_dictionary.symbols) for i in range(n)]
    return models, task, refs, reference


def model_name(path_spec):
    return os.path.basename(os.path.dirname(os.path.abspath(path_spec.split(":")[0])))


def evaluate(cfg):
    """Decode ``cfg.split`` once per beam size with fairseq's SequenceGenerator or (``backend='ctranslate2'``) the
    checkpoint converted to CTranslate2; returns the list of result dicts (and writes them if ``output_dir``).
    With ``cfg.pipeline`` a second checkpoint reads the first one's outputs: both decode with the same beam, the
    result is the second one's output, timed and counted (parameters) for both. ``cfg``: an :class:`EvalConfig`."""
    dcr = cfg.decoder
    device = dcr.device or ("cuda" if torch.cuda.is_available() else "cpu")
    models, task, refs, reference = load_split(cfg, device)
    src_lang, tgt_lang = task.cfg.source_lang, task.cfg.target_lang
    params = count_parameters(models)
    name = cfg.name or model_name(cfg.path)
    second = None
    if cfg.pipeline:
        second = Pipeline(cfg.pipeline.then, cfg.pipeline.then_data, device, dcr.fp16)
        params += count_parameters(second.models)
        tgt_lang = second.task.cfg.target_lang
        name = cfg.name or f"{name}+{model_name(cfg.pipeline.then)}"
    compute, ct2_device, converted = ("float16" if dcr.fp16 else "float32"), None, {}
    if dcr.backend == "ctranslate2":
        decode_ct2, compute, ct2_device, converted = ct2_decoder(cfg, models, device)
        name = cfg.name or f"{name}-ct2-{compute}"
    if dcr.backend == "ctranslate2" and ct2_device == "cpu":
        device_label = f"cpu x{dcr.threads or os.cpu_count()}"
    else:
        device_label = torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    results = []
    probe = None
    if cfg.latency_sentences and not second:  # a pipeline of two models is not one deployed model: not probed
        probe = deployment.run_probe(deployment.ProbeSpec(
            dcr.backend, os.path.abspath(cfg.data), cfg.split, tuple(cfg.beams), cfg.latency_sentences,
            path=cfg.path if dcr.backend == "fairseq" else None,
            model_dir=converted.get("model_dir"),
            device=ct2_device or device, compute_type=compute,
            threads=1,  # batch 1 on one core: a service's worker (kdseq/deployment.py)
            search=asdict(cfg.search),
            max_positions=converted.get("max_positions", (1024, 1024))))
    for beam in cfg.beams:
        if dcr.backend == "ctranslate2":
            texts, stats = decode_ct2(beam)
        else:
            search, then_search = cfg.searches(beam)
            hyps, stats = decode_split(task, models, cfg.split, search, device, cfg.batching.max_tokens,
                                       cfg.batching.batch_size)
            texts = [h[0]["text"] for h in hyps]
            if second is not None:
                hyps, stats2 = second.decode(task.target_dictionary, hyps, then_search, cfg.batching, device)
                texts = [h[0]["text"] for h in hyps]
                stats = {"sentences": stats["sentences"], "target_tokens": stats2["target_tokens"],
                         "wall_s": stats["wall_s"] + stats2["wall_s"],
                         "truncated_sources": stats["truncated_sources"] + stats2["truncated_sources"]}
        res = {"name": name, "checkpoints": cfg.path + (f" then {cfg.pipeline.then}" if second else ""),
               "data": os.path.abspath(cfg.data), "split": cfg.split,
               "backend": dcr.backend, "compute_type": compute,
               "src_lang": src_lang, "tgt_lang": tgt_lang, "beam": beam, "lenpen": cfg.search.lenpen,
               "no_repeat_ngram_size": cfg.search.no_repeat_ngram_size,
               "device": device_label, "fp16": dcr.fp16, "params": params, "ensemble_size": len(models),
               "sentences": stats["sentences"], "target_tokens": stats["target_tokens"], "wall_s": stats["wall_s"],
               "sent_per_s": stats["sentences"] / stats["wall_s"],
               "tgt_tokens_per_s": stats["target_tokens"] / stats["wall_s"], "reference": reference,
               "truncated_sources": stats["truncated_sources"], "distinct_hypotheses": len(set(texts)),
               "looping_hypotheses": sum(map(metrics.loops, texts))}
        res.update(metrics.score(texts, refs, tgt_lang))
        if probe is not None:
            res.update(deployment.summarise(probe, beam))
        if cfg.output_dir:
            write_result(cfg.output_dir, res, texts)
        results.append(res)
    return results


def write_result(output_dir, res, texts):
    """``<name>.<split>.beam<K>.{hyp,json}`` in ``output_dir``, each written atomically."""
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise KdseqError(f"--output-dir {output_dir}: cannot create it ({e.strerror})") from None
    stem = os.path.join(output_dir, f"{res['name']}.{res['split']}.beam{res['beam']}")
    atomic_write(stem + ".hyp", "".join(t + "\n" for t in texts))
    atomic_write(stem + ".json", json.dumps(res, indent=1, sort_keys=True) + "\n")
