"""A quality filter on distilled data (``kdseq-filter``): score every pair of a distilled corpus, drop the worst
share, write what is left as a new distilled corpus.

Two signals:

- ``teacher``: the teacher's own score of the hypothesis it wrote, from its beam search (log-probability divided
  by length ** lenpen, EOS counted; at the default lenpen 1 the length-normalised log-probability). kdseq-regenerate
  records it for every written pair in ``<select>/scores/teacher.txt``, so this signal costs nothing and needs no
  teacher: a re-filter at another share reads the file again.
- ``backward``: a backward model's cross-entropy of the source given the hypothesis (any fairseq checkpoint trained
  the other way, target -> source, on the same dictionaries), per source token, EOS counted, as Firefox
  Translations' pipeline filters distilled data. One teacher-forced pass over the corpus; the scores are kept in
  ``<corpus>/scores/backward.<sha256 of the checkpoint, 16 digits>.txt``, so a re-filter with the same model at
  another share runs no model.

Higher teacher scores and lower backward cross-entropies are better. ``--filter-worst F`` drops the floor(F x n)
worst-scored pairs (ties: the earlier pair first); pairs without a score (the originals that --keep-original
added: the teacher did not write them) are kept and counted. A corpus whose folder holds a teacher's source
(bin-teacher/, headline distillation) is refused: its aligned side would have to be filtered the same way.

Layout of ``--out-dir OUT`` (built in a temporary folder, renamed into place when complete)::

    bin/ text/ raw/          the pairs kept, in the input's order, binarized with its dictionaries; its held-out
                             splits copied (the distilled corpus a student trains on)
    scores/<signal>.txt      the kept pairs' scores (a later filter reads them)
    filter.json              settings, the input's record and files (sha256), counts, the threshold and score
                             statistics of kept and dropped pairs

A rerun with the same input and settings does nothing; other ones are refused (``--force`` rebuilds)."""
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from kdseq.data.vocab import binarize_file
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write, check_output_dir, file_sha256, inside, real, staged_dir
from kdseq.manifest import check_rerun, write_record
from kdseq.data.pieces import keep_lines
from kdseq.seqkd.distilled import DistilledCorpus
from kdseq.seqkd.output import TEACHER_SCORES, scores_text

log = logging.getLogger(__name__)
RECORD = "filter.json"
SIGNALS = ("teacher", "backward")


@dataclass(frozen=True)
class FilterConfig:
    corpus: str                           # a distilled corpus: <regen>/best, a kdseq-combine or kdseq-filter output
    out_dir: str
    by: str = "teacher"                   # teacher | backward
    worst: float = 0.05                   # the share of scored pairs dropped
    backward_path: Optional[str] = None   # with by=backward: a checkpoint trained target -> source
    device: str = "auto"                  # the backward model's device: auto, cpu, cuda
    threads: int = 0                      # CPU threads (0: torch's default)
    max_tokens: int = 8192                # padded tokens per batch of the backward pass
    force: bool = False

    def __post_init__(self):
        if self.by not in SIGNALS:
            raise KdseqError(f"--by {self.by}: choose from {', '.join(SIGNALS)}")
        if not (math.isfinite(self.worst) and 0 <= self.worst < 1):
            raise KdseqError(f"--filter-worst {self.worst}: a share of the pairs in [0, 1), e.g. 0.05")
        if self.by == "backward" and not self.backward_path:
            raise KdseqError("--by backward needs --backward-path (a checkpoint trained target -> source, e.g. "
                             "de -> en for an en -> de corpus)")
        if self.by == "teacher" and self.backward_path:
            raise KdseqError("--backward-path is for --by backward; --by teacher reads the teacher's recorded scores")
        if self.max_tokens < 1:
            raise KdseqError(f"--max-tokens {self.max_tokens}: must be at least 1")


def read_scores(path, n, named):
    """One float a line, ``n`` lines; ``nan`` is a pair without a score."""
    try:
        with open(path, encoding="utf-8") as f:
            values = [float(x) for x in f.read().split()]
    except FileNotFoundError:
        raise KdseqError(f"{named}: no {path}: the corpus was made before kdseq recorded the teacher's scores (or "
                         "joins one that was); merge its regeneration again, which decodes nothing (kdseq-regenerate "
                         "DATA --out-dir OUT --merge), or filter --by backward") from None
    except ValueError as e:
        raise KdseqError(f"{path}: a line is not a number ({e}): the file is damaged; delete it and rerun") from None
    if len(values) != n:
        raise KdseqError(f"{path}: {len(values)} scores for {n} pairs: the file is stale or damaged; delete it and "
                         "rerun")
    return np.asarray(values, dtype=np.float64)


def read_ids(path, dict_file):
    """Every line of a pieces file as ids (as fairseq binarizes it), without EOS."""
    from kdseq.data.binarized import Dictionary

    d = Dictionary.load(dict_file)
    with open(path, encoding="utf-8") as f:
        return [[d.indices.get(w, d.unk_index) for w in line.split()] for line in f]


def backward_cross_entropy(models, task, pairs, max_tokens, device="cpu"):
    """Per-pair cross-entropy (nats per source token, EOS counted) of the source given the hypothesis under a
    backward model: ``pairs`` are (hypothesis ids, source ids) without EOS, the backward model reads the first and
    predicts the second, teacher-forced. Batched by length (padding masked); equal to one plain forward pass per
    pair (tested)."""
    import torch
    from fairseq.data import data_utils

    model = models[0]
    src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
    pad, eos = tgt_dict.pad(), tgt_dict.eos()
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    out = np.empty(len(pairs), dtype=np.float64)

    def run(ids):
        srcs = [torch.tensor(pairs[i][0] + [src_dict.eos()], dtype=torch.long) for i in ids]
        tgts = [torch.tensor(pairs[i][1] + [eos], dtype=torch.long) for i in ids]
        src_tokens = data_utils.collate_tokens(srcs, src_dict.pad(), src_dict.eos(), left_pad=True)
        target = data_utils.collate_tokens(tgts, pad, eos, left_pad=False)
        prev = data_utils.collate_tokens(tgts, pad, eos, left_pad=False, move_eos_to_beginning=True)
        lengths = torch.tensor([len(s) for s in srcs], dtype=torch.long)
        with torch.no_grad():
            net = model(src_tokens.to(device), lengths.to(device), prev.to(device))
            lprobs = model.get_normalized_probs(net, log_probs=True).float()
            target = target.to(device)
            nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            mask = target.ne(pad)
            ce = (nll * mask).sum(1) / mask.sum(1)
        out[ids] = ce.double().cpu().numpy()

    batch, width = [], 0
    for i in order:
        w = max(len(pairs[i][0]), len(pairs[i][1])) + 1
        if batch and max(width, w) * (len(batch) + 1) > max_tokens:
            run(batch)
            batch, width = [], 0
        batch.append(i)
        width = max(width, w)
    if batch:
        run(batch)
    return out


def backward_scores(cfg, corpus):
    """(scores, seconds of the model pass or None when they came from the corpus's cache)."""
    from kdseq.checkpoints import split_paths

    paths = split_paths(cfg.backward_path, "--backward-path")
    if len(paths) > 1:
        raise KdseqError(f"--backward-path {cfg.backward_path}: give one checkpoint")
    sha = file_sha256(paths[0])
    cache = corpus.scores_file(f"backward.{sha[:16]}.txt")
    if os.path.exists(cache):
        log.info(f"backward scores from {cache} (no model run)")
        return read_scores(cache, corpus.n, "--by backward"), None
    import torch

    from kdseq.checkpoints import load_ensemble

    device = "cuda" if cfg.device == "auto" and torch.cuda.is_available() else \
        ("cpu" if cfg.device == "auto" else cfg.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise KdseqError("--device cuda: no CUDA device is visible; use --device cpu")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    models, task, _ = load_ensemble(paths[0], corpus.bin, flag="--backward-path", device=device)
    if (task.cfg.source_lang, task.cfg.target_lang) != (corpus.tgt, corpus.src):
        raise KdseqError(f"--backward-path {paths[0]}: translates {task.cfg.source_lang} -> {task.cfg.target_lang}; "
                         f"the corpus is {corpus.src} -> {corpus.tgt}: give a model trained {corpus.tgt} -> "
                         f"{corpus.src}")
    src = read_ids(corpus.text[corpus.src], os.path.join(corpus.bin, f"dict.{corpus.src}.txt"))
    hyp = read_ids(corpus.text[corpus.tgt], os.path.join(corpus.bin, f"dict.{corpus.tgt}.txt"))
    t0 = time.perf_counter()
    scores = backward_cross_entropy(models, task, list(zip(hyp, src)), cfg.max_tokens, device)
    secs = time.perf_counter() - t0
    try:  # the corpus folder is kdseq's own output: the cache goes beside its teacher scores
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        atomic_write(cache, scores_text(scores))
    except OSError as e:
        log.warning(f"could not keep the backward scores in {cache} ({e}): a re-filter will run the model again")
    return scores, secs


def worst(scores, share, higher_is_better):
    """Indices of the floor(share x scored) worst scored pairs (NaN: unscored, never dropped); ties: earlier
    pairs first."""
    scored = np.flatnonzero(~np.isnan(scores))
    k = math.floor(share * len(scored) + 1e-9)
    badness = -scores[scored] if higher_is_better else scores[scored]
    order = scored[np.argsort(-badness, kind="stable")]
    return np.sort(order[:k])


def stats(values):
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    return {"mean": round(float(values.mean()), 6), "median": round(float(np.median(values)), 6),
            "min": round(float(values.min()), 6), "max": round(float(values.max()), 6)}


def filter_corpus(cfg):
    """Score ``cfg.corpus``, drop the worst share, write ``cfg.out_dir`` (layout: the module docstring). Returns
    the record's counts (None when the folder is already made from this input and these settings)."""
    folder, out_dir = real(cfg.corpus), os.path.abspath(cfg.out_dir)
    if not os.path.isdir(folder):
        raise KdseqError(f"CORPUS {cfg.corpus}: no such folder")
    if inside(out_dir, folder) or inside(folder, out_dir):
        raise KdseqError(f"--out-dir {cfg.out_dir} and CORPUS {cfg.corpus} overlap: give a new folder")
    corpus = DistilledCorpus(folder)
    if any(n.startswith("bin-teacher") for n in os.listdir(folder)):
        raise KdseqError(f"CORPUS {folder}: holds a teacher's source (bin-teacher/): filtering it would break its "
                         "alignment; filter the corpus before --teacher-source is used, or not at all")
    check_output_dir(out_dir, RECORD)
    settings = {"corpus": folder, "by": cfg.by, "worst": cfg.worst,
                "backward_sha256": file_sha256(cfg.backward_path) if cfg.backward_path and
                os.path.isfile(cfg.backward_path) else None}
    inputs = corpus.describe()
    if check_rerun(os.path.join(out_dir, RECORD), settings, inputs, cfg.force):
        return None
    t0 = time.perf_counter()
    forward_s = None
    if cfg.by == "teacher":
        scores = read_scores(corpus.scores_file(TEACHER_SCORES), corpus.n, "--by teacher")
    else:
        scores, forward_s = backward_scores(cfg, corpus)
    dropped = worst(scores, cfg.worst, higher_is_better=cfg.by == "teacher")
    mask = np.ones(corpus.n, dtype=bool)
    mask[dropped] = False
    keep = np.flatnonzero(mask)
    if not len(keep):
        raise KdseqError(f"CORPUS {cfg.corpus}: nothing left after --filter-worst {cfg.worst}")
    names = {"teacher": TEACHER_SCORES, "backward": f"backward.{(settings['backward_sha256'] or '')[:16]}.txt"}
    counts = {"pairs": corpus.n, "scored": int((~np.isnan(scores)).sum()), "dropped": len(dropped),
              "kept": len(keep), "unscored_kept": int(np.isnan(scores[keep]).sum()),
              # the dropped score nearest the kept ones: teacher scores at or under it went, CE at or over it
              "threshold": (round(float(scores[dropped].max() if cfg.by == "teacher" else scores[dropped].min()), 6)
                            if len(dropped) else None),
              "higher_is_better": cfg.by == "teacher", "kept_scores": stats(scores[keep]),
              "dropped_scores": stats(scores[dropped]) if len(dropped) else None,
              "backward_pass_s": round(forward_s, 2) if forward_s is not None else None}
    src, tgt = corpus.src, corpus.tgt
    with staged_dir(out_dir) as tmp:
        for d in ("bin", "text", "raw", "scores"):
            os.makedirs(os.path.join(tmp, d))
        for side, files in (("text", corpus.text), ("raw", corpus.raw)):
            for lang, path in files.items():
                keep_lines(path, keep.tolist(), os.path.join(tmp, side, f"train.{lang}"))
        bin_dir = os.path.join(tmp, "bin")
        for name in sorted(os.listdir(corpus.bin)):  # dictionaries, valid, test...: unchanged
            if not name.startswith("train."):
                shutil.copy2(os.path.join(corpus.bin, name), bin_dir)
        for lang in (src, tgt):
            binarize_file(os.path.join(tmp, "text", f"train.{lang}"),
                          os.path.join(bin_dir, f"train.{src}-{tgt}.{lang}"), os.path.join(bin_dir, f"dict.{lang}.txt"))
        with open(os.path.join(tmp, "scores", names[cfg.by]), "w") as f:
            f.write(scores_text(scores[keep]))
        if cfg.by == "backward" and os.path.exists(corpus.scores_file(TEACHER_SCORES)):  # a later teacher filter
            teacher = read_scores(corpus.scores_file(TEACHER_SCORES), corpus.n, "--by teacher")
            with open(os.path.join(tmp, "scores", TEACHER_SCORES), "w") as f:
                f.write(scores_text(teacher[keep]))
        write_record(os.path.join(tmp, RECORD), {"settings": settings, "inputs": inputs, "counts": counts,
                                                 "src_lang": src, "tgt_lang": tgt,
                                                 "total_s": round(time.perf_counter() - t0, 2)})
    log.info(f"--by {cfg.by}: dropped {len(dropped)} of {corpus.n} pairs (the worst {cfg.worst:.0%}), kept "
             f"{len(keep)} -> {os.path.join(out_dir, 'bin')}")
    return counts
