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


# what a deployer asks (kdseq/deployment.py): one sentence at batch 1, median and 90th percentile, and the peak
# resident memory of a process serving the model; shown when a result has them, "-" for one without
DEPLOY_COLUMNS = [("latency_ms_p50", "p50 ms", "{:.1f}"), ("latency_ms_p90", "p90 ms", "{:.1f}"),
                  ("peak_rss_mb", "peak MB", "{:.0f}")]


def markdown_table(results, columns=None):
    """A markdown table of results (dicts as written by :func:`evaluate`), followed by the signatures."""
    default = columns is None
    columns = list(columns or COLUMNS)
    if default and any("latency_ms_p50" in r for r in results):
        columns[-2:-2] = DEPLOY_COLUMNS  # before params and device
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        r = dict(r, decoder=decoder_label(r), distinct=count_label(r, "distinct_hypotheses"),
                 loops=count_label(r, "looping_hypotheses"))
        lines.append("| " + " | ".join(fmt.format(r[k]) if r.get(k) is not None else "-" for k, _, fmt in columns)
                     + " |")
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


def seed_summary(results):
    """Markdown: one row per model, decoder and beam over its seeds (names with -seedN, at the end or before a
    suffix such as -ct2-int8, are the same model with another seed): the mean BLEU and chrF, their spread
    (max - min), the mean BLEU's gap to the teacher's best beam (the result named "teacher" with the largest beam),
    and the mean sentences per second over the teacher's at that beam. None when no model has two seeds."""
    import re
    from collections import defaultdict

    groups = defaultdict(list)
    for r in results:
        base = re.sub(r"-seed[0-9]+(?=-|$)", "", r["name"])  # student-x-seed2 and student-x-seed2-ct2-int8
        groups[base, decoder_label(r), r["beam"]].append(r)
    if all(len(g) < 2 for g in groups.values()):
        return None
    teacher = max((r for r in results if r["name"] == "teacher"), key=lambda r: r["beam"], default=None)
    lines = ["| model | decoder | beam | seeds | BLEU | spread | chrF | spread | BLEU - teacher | speed / teacher |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, decoder, beam), g in groups.items():
        bleu, chrf = [r["bleu"] for r in g], [r["chrf"] for r in g]
        mean = sum(bleu) / len(bleu)
        spread = (lambda v: f"{max(v) - min(v):.2f}" if len(v) > 1 else "-")
        gap = f"{mean - teacher['bleu']:+.2f}" if teacher and name != "teacher" else "-"
        speed = sum(r["sent_per_s"] for r in g) / len(g)
        ratio = f"{speed / teacher['sent_per_s']:.1f}x" if teacher and teacher["sent_per_s"] else "-"
        lines.append(f"| {name} | {decoder} | {beam} | {len(g)} | {mean:.2f} | {spread(bleu)} | "
                     f"{sum(chrf) / len(chrf):.2f} | {spread(chrf)} | {gap} | {ratio} |")
    if teacher:
        lines += ["", f"BLEU - teacher: the mean BLEU against the teacher's beam {teacher['beam']} "
                      f"({teacher['bleu']:.2f}); speed / teacher: the mean sentences per second over the teacher's "
                      f"at beam {teacher['beam']} ({teacher['sent_per_s']:.1f})."]
    return "\n".join(lines)
