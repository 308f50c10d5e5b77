"""Decode a binarized split with fairseq's SequenceGenerator and give the hypotheses back in corpus order.

fairseq-generate prints hypotheses in batch (length-sorted) order; here every hypothesis is stored under its
sample id, so the output is line-aligned with the source file whatever the batching.
"""
import time

import torch


def build_generator(task, models, beam, lenpen=1.0, max_len_a=1.2, max_len_b=10, nbest=1):
    from fairseq.dataclass.configs import GenerationConfig

    gen = GenerationConfig()
    gen.beam, gen.nbest, gen.lenpen, gen.max_len_a, gen.max_len_b = beam, nbest, lenpen, max_len_a, max_len_b
    return task.build_generator(models, gen)


def batches(task, models, split, max_tokens, batch_size):
    from fairseq import utils

    dataset = task.dataset(split)
    return task.get_batch_iterator(
        dataset=dataset, max_tokens=max_tokens, max_sentences=batch_size,
        max_positions=utils.resolve_max_positions(task.max_positions(), *[m.max_positions() for m in models]),
        ignore_invalid_inputs=False, required_batch_size_multiple=1, seed=1, num_workers=0,
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
def decode_split(task, models, split, beam, max_tokens=4096, batch_size=None, device="cpu", nbest=1,
                 lenpen=1.0, max_len_a=1.2, max_len_b=10):
    """Decode ``split`` (already loaded in ``task``). Returns (hyps, stats).

    hyps[i] is the list of the ``nbest`` best hypotheses of sentence i (corpus order), each a dict with
    'tokens' (list of target ids, no EOS), 'text' (detokenized: sentencepiece pieces joined) and 'score'.
    stats: sentences, target_tokens (of the best hypotheses, EOS included as fairseq-generate counts them),
    wall_s (the decoding loop only, model loading excluded).
    """
    from fairseq import utils

    generator = build_generator(task, models, beam, lenpen, max_len_a, max_len_b, nbest)
    tgt_dict = task.target_dictionary
    n = len(task.dataset(split))
    hyps = [None] * n
    n_tokens = 0
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for sample in batches(task, models, split, max_tokens, batch_size):
        if "net_input" not in sample:
            continue
        sample = utils.move_to_cuda(sample, device=torch.device(device)) if device != "cpu" else sample
        out = task.inference_step(generator, models, sample)
        for i, sid in enumerate(sample["id"].tolist()):
            hyps[sid] = [{"tokens": toks, "score": score, "text": tgt_dict.string(toks, "sentencepiece")}
                         for toks, score in nbest_hypotheses(out[i], tgt_dict, nbest)]
            n_tokens += len(hyps[sid][0]["tokens"]) + 1
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    missing = [i for i, h in enumerate(hyps) if h is None]
    if missing:
        raise RuntimeError(f"{len(missing)} sentences of split {split!r} were not decoded (first id {missing[0]}): "
                           "are some longer than the model's max positions?")
    return hyps, {"sentences": n, "target_tokens": n_tokens, "wall_s": wall}
