"""Corpus metrics: sacreBLEU BLEU and chrF (with their signatures) and ROUGE-1/2/L F1.

ROUGE uses rouge-score, whose default tokenizer keeps only [a-z0-9] and so scores Chinese as 0 (and drops
German umlauts). :class:`RougeTokenizer` keeps every letter and digit of any script and splits CJK text into
single characters, the usual unit for Chinese ROUGE (e.g. Ayana et al. 2018, LCSTS). Text is NFC-normalised
first, so a decomposed accent (e + U+0301) stays inside its word, and every CJK ideograph block (the unified
block, extensions A to H, compatibility ideographs) counts alike.
"""
import re
import unicodedata

from sacrebleu.metrics import BLEU, CHRF

from kdseq.text import CJK_CHARS

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"  # combining marks with no NFC form
_TOKEN = re.compile(rf"[{CJK_CHARS}]|(?:(?![{CJK_CHARS}])[^\W_]|[{_MARKS}])+")


def sacrebleu_tokenize(lang):
    """sacreBLEU's tokenizer for a target language: 'zh' for Chinese, 'char' for ja/ko, '13a' otherwise."""
    base = lang.lower().replace("_", "-").split("-")[0]
    return {"zh": "zh", "ja": "char", "ko": "char"}.get(base, "13a")


class RougeTokenizer:
    """Lower-cased tokens: each CJK character alone, runs of other letters/digits (any script) as words."""

    def tokenize(self, text):
        return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


def bleu(hyps, refs, lang):
    """(score, signature) of sacreBLEU corpus BLEU with the target language's tokenizer."""
    metric = BLEU(tokenize=sacrebleu_tokenize(lang))
    return metric.corpus_score(hyps, [refs]).score, str(metric.get_signature())


def chrf(hyps, refs):
    metric = CHRF()
    return metric.corpus_score(hyps, [refs]).score, str(metric.get_signature())


def rouge(hyps, refs):
    """Mean ROUGE-1/2/L F1 (x100) over sentence pairs, tokenized by :class:`RougeTokenizer`."""
    from rouge_score import rouge_scorer  # imports nltk and scipy: seconds, so only where ROUGE is scored

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=RougeTokenizer())
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for h, r in zip(hyps, refs):
        for key, s in scorer.score(r, h).items():
            totals[key] += s.fmeasure
    n = max(len(hyps), 1)
    return {k: 100.0 * v / n for k, v in totals.items()}


def loops(text, longest=4):
    """Whether a text says one thing three times in a row: a token, or a run of up to ``longest`` tokens, as ROUGE
    tokenizes it (each CJK character alone, words whole): 简单单单, 插入插入插入, "file file file". The mark of a
    decoder stuck in a loop."""
    toks = RougeTokenizer().tokenize(text)
    for n in range(1, longest + 1):
        for i in range(len(toks) - 3 * n + 1):
            if toks[i:i + n] == toks[i + n:i + 2 * n] == toks[i + 2 * n:i + 3 * n]:
                return True
    return False


def score(hyps, refs, lang):
    """Every metric as one flat dict."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    b, b_sig = bleu(hyps, refs, lang)
    c, c_sig = chrf(hyps, refs)
    out = {"bleu": b, "bleu_signature": b_sig, "chrf": c, "chrf_signature": c_sig}
    out.update(rouge(hyps, refs))
    return out
