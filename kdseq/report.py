"""Results side by side: the markdown tables of ``kdseq-report`` (and ``kdseq-evaluate``'s printout) over the JSON
results ``kdseq-evaluate`` writes."""
import json
import os

from kdseq.errors import KdseqError


COLUMNS = [("name", "model", "{}"), ("decoder", "decoder", "{}"), ("beam", "beam", "{}"),
           ("bleu", "BLEU", "{:.2f}"), ("chrf", "chrF", "{:.2f}"),
           ("rougeL", "ROUGE-L", "{:.2f}"), ("sent_per_s", "sent/s", "{:.1f}"),
           ("tgt_tokens_per_s", "tok/s", "{:.0f}"), ("wall_s", "wall s", "{:.2f}"),
           ("params", "params", "{:,}"), ("device", "device", "{}")]


# headline generation: ROUGE first (character ROUGE for Chinese), the test set named, and how many different
# headlines the model wrote: a model that writes one string for every text still scores the characters it shares
# with the references, and only this column shows it
HEADLINE_COLUMNS = [("name", "model", "{}"), ("split", "test set", "{}"), ("beam", "beam", "{}"),
                    ("rouge1", "R-1", "{:.2f}"), ("rouge2", "R-2", "{:.2f}"), ("rougeL", "R-L", "{:.2f}"),
                    ("bleu", "BLEU", "{:.2f}"), ("distinct", "distinct", "{}"), ("loops", "loops", "{}"),
                    ("sent_per_s", "sent/s", "{:.1f}"), ("params", "params", "{:,}")]


def decoder_label(r):
    """'fairseq float32', 'ctranslate2 int8', ... (results written before the backend was recorded: fairseq)."""
    return f"{r.get('backend', 'fairseq')} {r.get('compute_type', 'float16' if r.get('fp16') else 'float32')}"


def count_label(r, key):
    """'12 / 1,024': the hypotheses counted under ``key`` (distinct_hypotheses, looping_hypotheses) of all ('?' for
    a result written before they were counted, without its .hyp file beside it)."""
    d = r.get(key)
    return f"{'?' if d is None else f'{d:,}'} / {r['sentences']:,}" if "sentences" in r else "?"


def _loop_count(lines):
    from kdseq.metrics import loops  # sacreBLEU with it: only for a result written before loops were counted

    return sum(map(loops, lines))


# counted from a result's .hyp file when the result was written before kdseq-evaluate counted them
HYP_COUNTS = {"distinct_hypotheses": lambda lines: len(set(lines)), "looping_hypotheses": _loop_count}


def markdown_table(results, columns=None):
    """A markdown table of results (dicts as written by :func:`evaluate`), followed by the signatures."""
    columns = columns or COLUMNS
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        r = dict(r, decoder=decoder_label(r), distinct=count_label(r, "distinct_hypotheses"),
                 loops=count_label(r, "looping_hypotheses"))
        lines.append("| " + " | ".join(fmt.format(r[k]) for k, _, fmt in columns) + " |")
    lines.append("")
    for metric, key in (("BLEU", "bleu_signature"), ("chrF", "chrf_signature")):
        lines += [f"{metric} signature: {s}" for s in sorted({r[key] for r in results})]
    return "\n".join(lines)


def load_results(paths):
    results = []
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                r = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise KdseqError(f"{p}: not a kdseq-evaluate JSON result ({e})") from e
        missing = [k for k, _, _ in COLUMNS if k not in r and k != "decoder"]
        if missing:
            raise KdseqError(f"{p}: not a kdseq-evaluate JSON result (missing {', '.join(missing)})")
        hyp = p[:-len(".json")] + ".hyp" if p.endswith(".json") else None
        if any(k not in r for k in HYP_COUNTS) and hyp and os.path.isfile(hyp):  # a result of before the counts
            with open(hyp, encoding="utf-8", newline="") as f:  # exactly as written: one "\n" a hypothesis
                lines = f.read().split("\n")[:-1]
            if len(lines) == r.get("sentences"):
                for k, count in HYP_COUNTS.items():
                    r.setdefault(k, count(lines))
        results.append(r)
    return results
