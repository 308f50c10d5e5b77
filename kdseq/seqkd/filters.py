"""Degenerate teacher outputs dropped from a distilled corpus: empty, far too long or short, stuttering."""


def max_tandem_repeat(tokens, max_n=4):
    """The most times any n-gram (n <= max_n) occurs back to back: 'a b a b a b' -> 3, 'a b c' -> 1."""
    best = 1 if tokens else 0
    L = len(tokens)
    for n in range(1, max_n + 1):
        for start in range(n):
            run, i = 1, start
            while i + 2 * n <= L:
                if tokens[i:i + n] == tokens[i + n:i + 2 * n]:
                    run += 1
                    best = max(best, run)
                else:
                    run = 1
                i += n
    return best


def degenerate_reason(hyp, src, max_len_ratio, max_repeats, headline_ratio=0.0):
    """Why a hypothesis (list of pieces) is dropped for source ``src`` (the pieces the teacher read), or None.
    Reasons: 'empty', 'length_ratio' (hyp/src or src/hyp pieces above ``max_len_ratio``: a translation),
    'headline_ratio' (hyp/src above ``headline_ratio``: a headline much shorter than its text is the point, one
    nearly as long as the text is a copy or a run-on), 'repeats' (an n-gram repeated back to back at least
    ``max_repeats`` times, more than anything in the source)."""
    if not hyp:
        return "empty"
    if max_len_ratio and max(len(hyp) / max(len(src), 1), len(src) / len(hyp)) > max_len_ratio:
        return "length_ratio"
    if headline_ratio and len(hyp) > headline_ratio * len(src):
        return "headline_ratio"
    if max_repeats:
        r = max_tandem_repeat(hyp)
        if r >= max_repeats and r > max_tandem_repeat(src):
            return "repeats"
    return None
