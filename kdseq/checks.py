"""Whether a recipe's models do their job, checked after each stage (``kdseq-check``): a teacher whose valid loss
rose for most of its run or that scores under a few BLEU, a regeneration that dropped most of the teacher's
outputs, a model that writes the same output for most inputs or loops. Each finding is one line: what was seen and
what to try. The workflow stops on the teacher's and the regeneration's (``checks: stop``) or writes them beside
the table (``checks: warn``)."""
import json
import re

from kdseq.errors import KdseqError

VALID_LOSS = re.compile(r"valid on 'valid' subset \| loss ([0-9.]+)")


def valid_losses(log_text):
    """The valid losses a fairseq-train log reports, in order."""
    return [float(x) for x in VALID_LOSS.findall(log_text)]


def loss_trend(losses):
    """A finding if the valid loss rose for most of the run: it ends above where it began and rose at more
    validations than it fell; None otherwise, or with fewer than three validations (two say nothing of a trend: the
    recipes validate at half and at the end)."""
    if len(losses) < 3:
        return None
    rises = sum(b > a for a, b in zip(losses, losses[1:]))
    if losses[-1] > losses[0] and rises > (len(losses) - 1) / 2:
        return (f"its valid loss rose from {losses[0]:.2f} to {losses[-1]:.2f} ({rises} of {len(losses) - 1} "
                "validations higher than the one before): it overfits a corpus this small; try more data, fewer "
                "updates or a smaller model")
    return None


def teacher(log_text, result, min_bleu, name="teacher"):
    """Findings on a teacher: its valid loss (its training log) and its BLEU (``result``: kdseq-evaluate's JSON,
    beam 5; None: not checked)."""
    found = []
    trend = loss_trend(valid_losses(log_text))
    if trend:
        found.append(f"{name}: {trend}")
    if result is not None and result["bleu"] < min_bleu:
        found.append(f"{name}: {result['bleu']:.2f} BLEU with beam {result['beam']} on {result['split']} (under "
                     f"{min_bleu:g}): its students can learn little from it; try more data, more updates (or fewer, "
                     "if its valid loss rose) or a smaller model")
    return found


def regeneration(counts, max_dropped):
    """A finding if the regeneration kept too few of the teacher's outputs (``counts``: <select>/regenerate.json)."""
    n, kept = counts["sentences"], counts["distilled_kept"]
    if n and (n - kept) / n > max_dropped:
        why = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts["dropped"].items() if v)
        return [f"regeneration: kept {kept} of {n} of the teacher's outputs (dropped: {why}): the teacher loops or "
                "writes nothing useful, so the seq-KD students train on little; train a better teacher (more data, "
                "fewer updates if its valid loss rose) or loosen the filters (--max-repeats, --max-len-ratio)"]
    return []


def outputs(result, min_distinct=0.5, max_looping=0.25):
    """A finding on any evaluated model (``result``: kdseq-evaluate's JSON) that writes the same output for most
    inputs, or loops in many."""
    n, what = result["sentences"], []
    if n and result.get("distinct_hypotheses") is not None and result["distinct_hypotheses"] < min_distinct * n:
        what.append(f"{result['distinct_hypotheses']} distinct outputs for {n} inputs")
    if n and result.get("looping_hypotheses") and result["looping_hypotheses"] > max_looping * n:
        what.append(f"{result['looping_hypotheses']} of {n} outputs loop")
    if not what:
        return []
    decoder = f"beam {result['beam']}" + (f", {result['backend']}" if result.get("backend") != "fairseq" else "")
    fix = "train it longer or on more data" + (", or decode with --no-repeat-ngram-size" if "loop" in what[-1] else "")
    return [f"{result['name']} ({decoder}): {' and '.join(what)}; {fix}"]


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise KdseqError(f"{path}: cannot read {what} ({e})") from None
