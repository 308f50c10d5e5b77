"""Seq-inter selection (Kim & Rush 2016): score every n-best hypothesis against the reference by smoothed
sentence BLEU (as sacreBLEU computes it) or sentence chrF, and pick the closest."""
import math
from collections import Counter

from kdseq.errors import KdseqError
from kdseq.metrics import sacrebleu_tokenize
from kdseq.seqkd import SELECTORS
from kdseq.text import ids_to_text


class SentenceBLEU:
    """sacreBLEU's sentence BLEU (``BLEU(effective_order=True).sentence_score``: exp smoothing, effective order,
    one reference, the target language's tokenizer), with each text's n-grams counted once: a reference is
    compared with every hypothesis of its n-best list. Tested equal to sacreBLEU."""

    def __init__(self, tgt_lang):
        from sacrebleu.metrics import BLEU

        self._tokenize = BLEU(tokenize=sacrebleu_tokenize(tgt_lang)).tokenizer
        self._memo = {}

    def ngrams(self, text):
        got = self._memo.get(text)
        if got is None:
            if len(self._memo) > 100_000:
                self._memo.clear()
            toks = self._tokenize(text.rstrip()).split()
            counts = Counter(zip(toks))  # n-grams as n-tuples: orders never collide
            for n in range(2, 5):
                counts.update(zip(*(toks[i:] for i in range(n))))
            got = self._memo[text] = (counts, len(toks))
        return got

    def __call__(self, hyp, ref):
        (h, h_len), (r, r_len) = self.ngrams(hyp), self.ngrams(ref)
        total = [max(0, h_len - n) for n in range(4)]
        correct = [0] * 4
        for g in h.keys() & r.keys():
            c, rc = h[g], r[g]
            correct[len(g) - 1] += c if c < rc else rc
        if not any(correct):
            return 0.0
        bp = 1.0 if h_len >= r_len else math.exp(1 - r_len / h_len)
        logs, smooth = [], 1.0
        for n in range(4):
            if total[n] == 0:
                break
            if correct[n] == 0:
                smooth *= 2
                logs.append(math.log(100.0 / (smooth * total[n])))
            else:
                logs.append(math.log(100.0 * correct[n] / total[n]))
        return bp * math.exp(sum(logs) / len(logs))


def sentence_scorer(metric, tgt_lang):
    """score(hyp_text, ref_text): smoothed sentence BLEU as sacreBLEU computes it, or sacreBLEU's sentence chrF."""
    from sacrebleu.metrics import CHRF

    if (metric, tgt_lang) in _SCORERS:
        return _SCORERS[metric, tgt_lang]
    if metric == "bleu":
        scorer = SentenceBLEU(tgt_lang)
    elif metric == "chrf":
        m = CHRF()
        scorer = lambda hyp, ref: m.sentence_score(hyp, [ref]).score  # noqa: E731
    else:
        raise KdseqError(f"--select {metric}: no such selector (choose from {', '.join(SELECTORS)})")
    _SCORERS[metric, tgt_lang] = scorer
    return scorer


_SCORERS = {}  # one per (metric, language): the n-gram memo is shared by every selection of a run


def first_argmax(scores):
    """Index of the highest score; ties go to the first (the better-ranked hypothesis of an n-best list)."""
    best_i, best_s = 0, float("-inf")
    for i, s in enumerate(scores):
        if s > best_s:
            best_i, best_s = i, s
    return best_i


def _score_slice(job):
    metrics, tgt_lang, items = job
    out = {}
    for m in metrics:
        score = sentence_scorer(m, tgt_lang)
        out[m] = [[score(h, ref) for h in hyps] for hyps, ref in items]
    return out


def nbest_scores(rows, corpus, metrics, workers=1, slice_size=2000):
    """``{metric: [[score of each n-best hypothesis of sentence j against its reference] for j in rows]}``.

    The scorers are pure Python and cost about as much as a tenth of the decoding on CPU (sacreBLEU's
    tokenizer and the n-gram counts of ~170k texts for 34k sentences with 5-best), so slices of sentences
    are scored on ``workers`` forked processes; the parent only turns token ids into text."""
    metrics = list(metrics)
    tgt_sym, lang = corpus.tgt_dict.symbols, corpus.tgt_lang

    def jobs():
        for a in range(0, len(rows), slice_size):
            items = [([ids_to_text(h, tgt_sym) for h in r["hyps"]], ids_to_text(corpus.ref_ids(r["id"]), tgt_sym))
                     for r in rows[a:a + slice_size]]
            yield metrics, lang, items

    out = {m: [] for m in metrics}
    if not metrics:
        return out
    if workers > 1 and len(rows) > slice_size:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = list(pool.imap(_score_slice, jobs()))
    else:
        parts = [_score_slice(j) for j in jobs()]
    for part in parts:
        for m in metrics:
            out[m].extend(part[m])
    return out
