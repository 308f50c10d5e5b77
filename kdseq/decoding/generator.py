"""Decoding with fairseq's SequenceGenerator: the generator of a :class:`~kdseq.decoding.search.Search`, and a
binarized split decoded with the hypotheses given back in corpus order.

fairseq-generate prints hypotheses in batch (length-sorted) order; here every hypothesis is stored under its
sample id, so the output is line-aligned with the source file whatever the batching.
"""
import logging
import time

import numpy as np
import torch

from kdseq.errors import KdseqError
from kdseq.text import ids_to_text

log = logging.getLogger(__name__)


def build_generator(models, tgt_dict, search):
    """fairseq's SequenceGenerator for a :class:`kdseq.decoding.search.Search`: beam search, or sampling from the
    full distribution (``search.sampling``), built as fairseq's ``FairseqTask.build_generator`` builds it."""
    from fairseq import search as fairseq_search
    from fairseq.sequence_generator import SequenceGenerator

    strategy = fairseq_search.Sampling(tgt_dict, -1, -1.0) if search.sampling else fairseq_search.BeamSearch(tgt_dict)
    generator = SequenceGenerator(
        models, tgt_dict, beam_size=search.beam, max_len_a=search.max_len_a, max_len_b=search.max_len_b, min_len=1,
        normalize_scores=True, len_penalty=search.lenpen, unk_penalty=0, temperature=search.temperature,
        match_source_len=False, no_repeat_ngram_size=search.no_repeat_ngram_size, search_strategy=strategy)
    if search.no_repeat_ngram_size:
        generator.repeat_ngram_blocker = _step_ngram_blocker(search.no_repeat_ngram_size)
    return generator


def _step_ngram_blocker(n):
    """fairseq's NGramRepeatBlock given the tokens decoded so far: fairseq 0.12's SequenceGenerator hands it the
    whole token buffer, padding included, and its CPU path then compares the buffer's tail (padding), not the last
    n - 1 tokens decoded, so it blocks nothing."""
    from fairseq.ngram_repeat_block import NGramRepeatBlock

    class StepNGramRepeatBlock(NGramRepeatBlock):
        def forward(self, tokens, lprobs, bsz: int, beam_size: int, step: int):
            return super().forward(tokens[:, :step + 1], lprobs, bsz, beam_size, step)

    return StepNGramRepeatBlock(n)


def max_positions(models, task=None):
    """(source, target): the longest source (EOS included) and output that every model (and the task, if
    given) can handle."""
    from fairseq import utils

    limits = ([task.max_positions()] if task is not None else []) + [m.max_positions() for m in models]
    pos = utils.resolve_max_positions(*limits)
    return (int(pos[0]), int(pos[1])) if isinstance(pos, tuple) else (int(pos), int(pos))


def truncate_long_sources(task, split, models, max_tokens=None):
    """Cut the sources of ``split`` that are longer than the models' positions (or than ``max_tokens``, one
    batch) to fit, EOS kept, so that decoding goes on; returns how many were cut. A reference longer than
    ``max_tokens`` is batched as if it had that length (decoding never reads it). fairseq would stop with an
    error about a flag kdseq's commands do not have. Calling it again on the same split cuts nothing more and
    returns the same count."""
    from fairseq.data import AppendTokenDataset, BaseWrapperDataset, StripTokenDataset, TruncateDataset

    ds = task.dataset(split)
    while isinstance(ds, BaseWrapperDataset):  # translation_kd / headline_kd wrap the language-pair dataset
        ds = ds.dataset
    if hasattr(ds, "kdseq_truncated"):
        return ds.kdseq_truncated
    limit = max_positions(models, task)[0]
    if max_tokens:
        limit = min(limit, max_tokens)
    sizes = np.asarray(ds.src_sizes)
    n_long = int((sizes > limit).sum())
    if n_long:
        eos = task.source_dictionary.eos()
        ds.src = AppendTokenDataset(TruncateDataset(StripTokenDataset(ds.src, eos), limit - 1), eos)
        ds.src_sizes = np.minimum(sizes, limit)
        why = f"the model's {limit} positions" if limit == max_positions(models, task)[0] else \
            f"--max-tokens {limit} (one batch)"
        log.warning(f"{n_long} sources of {split} are longer than {why} (longest {int(sizes.max())} tokens): the "
                    f"model reads their first {limit - 1} tokens")
    if ds.tgt_sizes is not None and max_tokens and int(np.max(ds.tgt_sizes)) > max_tokens:
        ds.tgt_sizes = np.minimum(ds.tgt_sizes, max_tokens)
    ds.sizes = np.vstack((ds.src_sizes, ds.tgt_sizes)).T if ds.tgt_sizes is not None else ds.src_sizes
    ds.kdseq_truncated = n_long
    return n_long


def batches(task, models, split, max_tokens, batch_size, source_only=False):
    """Batches of ``split`` in a fixed order; ``source_only``: only sources must fit the models (decoding never
    reads the reference targets); otherwise a sentence that does not fit is left out (and the caller counts)."""
    dataset = task.dataset(split)
    limit = max_positions(models, task)
    if source_only:
        limit = (limit[0], 1 << 30)
    return task.get_batch_iterator(
        dataset=dataset, max_tokens=max_tokens, max_sentences=batch_size, max_positions=limit,
        ignore_invalid_inputs=not source_only, required_batch_size_multiple=1, seed=1, num_workers=0,
    ).next_epoch_itr(shuffle=False)


def nbest_hypotheses(hyps, tgt_dict, nbest):
    """The ``nbest`` first of one sentence's SequenceGenerator hypotheses as (target ids without padding and
    EOS, score) pairs."""
    from fairseq import utils

    out = []
    for h in hyps[:nbest]:
        toks = utils.strip_pad(h["tokens"], tgt_dict.pad()).tolist()
        if toks and toks[-1] == tgt_dict.eos():
            toks = toks[:-1]
        out.append((toks, float(h["score"])))
    return out


@torch.no_grad()
def decode_split(task, models, split, search, device="cpu", max_tokens=4096, batch_size=None):
    """Decode ``split`` (already loaded in ``task``) with ``search`` (:class:`kdseq.decoding.search.Search`). Returns
    (hyps, stats).

    hyps[i] is the list of the ``nbest`` best hypotheses of sentence i (corpus order), each a dict with
    'tokens' (list of target ids, no EOS), 'text' (detokenized: sentencepiece pieces joined) and 'score'.
    stats: sentences, target_tokens (of the best hypotheses, EOS included as fairseq-generate counts them),
    wall_s (the decoding loop only, model loading excluded), truncated_sources (cut to the model's positions).
    """
    from fairseq import utils

    truncated = truncate_long_sources(task, split, models, max_tokens)
    generator = build_generator(models, task.target_dictionary, search)
    nbest = search.nbest
    tgt_dict = task.target_dictionary
    n = len(task.dataset(split))
    hyps = [None] * n
    n_tokens = 0
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for sample in batches(task, models, split, max_tokens, batch_size, source_only=True):
        if "net_input" not in sample:
            continue
        sample = utils.move_to_cuda(sample, device=torch.device(device)) if device != "cpu" else sample
        out = task.inference_step(generator, models, sample)
        for i, sid in enumerate(sample["id"].tolist()):
            hyps[sid] = [{"tokens": toks, "score": score, "text": ids_to_text(toks, tgt_dict.symbols)}
                         for toks, score in nbest_hypotheses(out[i], tgt_dict, nbest)]
            n_tokens += len(hyps[sid][0]["tokens"]) + 1
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    missing = [i for i, h in enumerate(hyps) if h is None]
    if missing:
        raise KdseqError(f"{len(missing)} sentences of split {split!r} were not decoded (first id {missing[0]})")
    return hyps, {"sentences": n, "target_tokens": n_tokens, "wall_s": wall, "truncated_sources": truncated}
