"""Evaluate a checkpoint (or ensemble) on a binarized split at several beam sizes: quality, speed, size.

One result (a flat dict, written as JSON) per decode; :func:`markdown_table` puts any number of them side by
side. Used by ``kdseq-evaluate`` and ``kdseq-report``.
"""
import json
import logging
import os
import time

import torch

from kdseq import metrics
from kdseq.checkpoints import count_parameters, load_ensemble
from kdseq.decode import decode_split, max_positions
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write

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


def ct2_decoder(path_spec, data_dir, split, models, device, compute_type, lenpen, threads=0, max_len_a=1.2,
                max_len_b=10):
    """(decode(beam) -> (texts, stats), compute type) with the checkpoint converted to CTranslate2 (cached by its
    sha256), decoding the same pieces in corpus order: how a student would be deployed."""
    from kdseq.fileio import file_sha256
    from kdseq.seqkd.backends import CTranslate2Backend, default_compute_type
    from kdseq.seqkd.chunks import length_batches
    from kdseq.seqkd.corpus import Corpus, detok
    from kdseq.seqkd.ct2 import CT2_CUBLAS, convert_to_ct2, ct2_cuda_available

    if ":" in path_spec:
        raise KdseqError("--backend ctranslate2 decodes one checkpoint, not an ensemble: use --backend fairseq")
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        raise KdseqError("--backend ctranslate2: ctranslate2 is not installed (pip install ctranslate2)") from None
    corpus = Corpus(data_dir, split)
    max_source, max_target = max_positions(models)
    corpus.set_max_source(max_source)
    try:
        model_dir, _ = convert_to_ct2(path_spec, file_sha256(path_spec), data_dir, corpus.src_lang, corpus.tgt_lang)
    except KdseqError:
        raise
    except Exception as e:  # the converter raises ValueError/AssertionError for what it cannot convert
        raise KdseqError(f"--backend ctranslate2 cannot convert {path_spec}: {type(e).__name__}: {e}") from None
    dev = "cuda" if device.startswith("cuda") else "cpu"
    if dev == "cuda" and not ct2_cuda_available():
        log.warning(f"CTranslate2 cannot decode on this GPU (no GPU for it, or no {CT2_CUBLAS}): it decodes on the CPU")
        dev = "cpu"
    compute = default_compute_type(dev, compute_type)
    backend = CTranslate2Backend(model_dir, corpus, 1, 1, lenpen, max_len_a, max_len_b, dev, compute,
                                 threads or os.cpu_count() or 1, max_target)
    sym, ids = corpus.tgt_dict.symbols, list(range(len(corpus)))

    def decode(beam):
        backend.beam = beam
        out = {}
        start = time.perf_counter()
        batches = length_batches(ids, corpus.lengths, 1024 if dev == "cpu" else 4096, 256)
        for batch, res in backend.decode_batches(batches):
            out.update(zip(batch, res))
        wall = time.perf_counter() - start
        best = [out[i][0][0] if out[i][0] else [] for i in ids]
        texts = [detok([sym[t] for t in h]) for h in best]
        return texts, {"sentences": len(ids), "target_tokens": sum(len(h) + 1 for h in best), "wall_s": wall,
                       "truncated_sources": corpus.truncated}

    return decode, compute, dev


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

    def decode(self, first_dict, first_hyps, beam, max_tokens, batch_size, device, lenpen, max_len_a, max_len_b):
        from fairseq.data import LanguagePairDataset

        src_dict = self.task.source_dictionary
        srcs = [torch.LongTensor([src_dict.index(first_dict[t]) for t in h[0]["tokens"]] + [src_dict.eos()])
                for h in first_hyps]
        self.task.datasets["pipeline"] = LanguagePairDataset(srcs, [len(s) for s in srcs], src_dict,
                                                             left_pad_source=self.task.cfg.left_pad_source)
        return decode_split(self.task, self.models, "pipeline", beam, max_tokens=max_tokens, batch_size=batch_size,
                            device=device, lenpen=lenpen, max_len_a=max_len_a, max_len_b=max_len_b)


def evaluate(path_spec, data_dir, split="test", beams=(1, 5), reference=None, name=None, max_tokens=4096,
             batch_size=None, device=None, fp16=False, lenpen=1.0, output_dir=None, backend="fairseq",
             compute_type="auto", threads=0, then=None, then_data=None, max_len_a=1.2, max_len_b=10,
             first_max_len=(1.2, 10)):
    """Decode ``split`` once per beam size with fairseq's SequenceGenerator or (``backend='ctranslate2'``) the
    checkpoint converted to CTranslate2 at ``compute_type``; returns the list of result dicts (and writes them
    if output_dir). ``then``: a second checkpoint (ensemble) that reads the first one's outputs (a pipeline, e.g.
    translate then summarise): both decode with the same beam, the result is the second one's output, timed and
    counted (parameters) for both; ``max_len_a/b`` limit the output of the last model, ``first_max_len`` (a, b)
    the first one's in a pipeline."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    name_given = name is not None
    models, task, _ = load_ensemble(path_spec, data_dir, device=device, fp16=fp16)
    task = decoding_task(task)
    src_lang, tgt_lang = task.cfg.source_lang, task.cfg.target_lang
    try:
        task.load_dataset(split)
    except FileNotFoundError as e:
        raise KdseqError(f"--split {split}: not found in {data_dir}: {e}") from e
    n = len(task.dataset(split))
    reference = reference or default_reference(data_dir, split, tgt_lang)
    if reference:
        refs = read_references(reference, n)
    else:
        log.warning(f"warning: no --reference and no raw/{split}.{tgt_lang} beside {data_dir}; scoring against the "
                    "binarized target (unknown words become <unk>)")
        ds = task.dataset(split)
        refs = [task.target_dictionary.string(ds.tgt[i][:-1], "sentencepiece") for i in range(n)]
    params = count_parameters(models)
    name = name or os.path.basename(os.path.dirname(os.path.abspath(path_spec.split(":")[0])))
    second = None
    if then:
        if backend != "fairseq":
            raise KdseqError("--then (a pipeline of two models) decodes with --backend fairseq")
        second = Pipeline(then, then_data, device, fp16)
        params += count_parameters(second.models)
        tgt_lang = second.task.cfg.target_lang
        if not name_given:
            name = f"{name}+{os.path.basename(os.path.dirname(os.path.abspath(then.split(':')[0])))}"
    compute, ct2_device = ("float16" if fp16 else "float32"), None
    if backend == "ctranslate2":
        decode_ct2, compute, ct2_device = ct2_decoder(path_spec, data_dir, split, models, device, compute_type,
                                                      lenpen, threads, max_len_a, max_len_b)
        name = name if name_given else f"{name}-ct2-{compute}"
    elif compute_type not in ("auto", "float32", "float16"):
        raise KdseqError(f"--compute-type {compute_type}: the fairseq backend decodes in float32 (or --fp16); use "
                         "--backend ctranslate2 for int8")
    results = []
    for beam in beams:
        if backend == "ctranslate2":
            texts, stats = decode_ct2(beam)
        else:
            la, lb = first_max_len if second is not None else (max_len_a, max_len_b)
            hyps, stats = decode_split(task, models, split, beam, max_tokens=max_tokens, batch_size=batch_size,
                                       device=device, lenpen=lenpen, max_len_a=la, max_len_b=lb)
            texts = [h[0]["text"] for h in hyps]
            if second is not None:
                hyps, stats2 = second.decode(task.target_dictionary, hyps, beam, max_tokens, batch_size, device,
                                             lenpen, max_len_a, max_len_b)
                texts = [h[0]["text"] for h in hyps]
                stats = {"sentences": stats["sentences"], "target_tokens": stats2["target_tokens"],
                         "wall_s": stats["wall_s"] + stats2["wall_s"],
                         "truncated_sources": stats["truncated_sources"] + stats2["truncated_sources"]}
        res = {"name": name, "checkpoints": path_spec + (f" then {then}" if then else ""),
               "data": os.path.abspath(data_dir), "split": split,
               "backend": backend, "compute_type": compute,
               "src_lang": src_lang, "tgt_lang": tgt_lang, "beam": beam, "lenpen": lenpen,
               "device": (f"cpu x{threads or os.cpu_count()}" if backend == "ctranslate2" and ct2_device == "cpu"
                          else torch.cuda.get_device_name() if device.startswith("cuda") else
                          f"cpu x{torch.get_num_threads()}"),
               "fp16": fp16, "params": params, "ensemble_size": len(models),
               "sentences": stats["sentences"], "target_tokens": stats["target_tokens"], "wall_s": stats["wall_s"],
               "sent_per_s": stats["sentences"] / stats["wall_s"],
               "tgt_tokens_per_s": stats["target_tokens"] / stats["wall_s"], "reference": reference,
               "truncated_sources": stats["truncated_sources"], "distinct_hypotheses": len(set(texts))}
        res.update(metrics.score(texts, refs, tgt_lang))
        if output_dir:
            try:
                os.makedirs(output_dir, exist_ok=True)
            except OSError as e:
                raise KdseqError(f"--output-dir {output_dir}: cannot create it ({e.strerror})") from None
            stem = os.path.join(output_dir, f"{name}.{split}.beam{beam}")
            atomic_write(stem + ".hyp", "".join(t + "\n" for t in texts))
            atomic_write(stem + ".json", json.dumps(res, indent=1, sort_keys=True) + "\n")
        results.append(res)
    return results


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
                    ("bleu", "BLEU", "{:.2f}"), ("distinct", "distinct", "{}"), ("sent_per_s", "sent/s", "{:.1f}"),
                    ("params", "params", "{:,}")]


def decoder_label(r):
    """'fairseq float32', 'ctranslate2 int8', ... (results written before the backend was recorded: fairseq)."""
    return f"{r.get('backend', 'fairseq')} {r.get('compute_type', 'float16' if r.get('fp16') else 'float32')}"


def distinct_label(r):
    """'12 / 1,024': distinct hypotheses of all ('?' for a result written before they were counted, without its
    .hyp file beside it)."""
    d = r.get("distinct_hypotheses")
    return f"{'?' if d is None else f'{d:,}'} / {r['sentences']:,}" if "sentences" in r else "?"


def markdown_table(results, columns=None):
    """A markdown table of results (dicts as written by :func:`evaluate`), followed by the signatures."""
    columns = columns or COLUMNS
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        r = dict(r, decoder=decoder_label(r), distinct=distinct_label(r))
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
        if "distinct_hypotheses" not in r and hyp and os.path.isfile(hyp):  # a result of before the count
            with open(hyp, encoding="utf-8", newline="") as f:  # exactly as written: one "\n" a hypothesis
                lines = f.read().split("\n")[:-1]
            if len(lines) == r.get("sentences"):
                r["distinct_hypotheses"] = len(set(lines))
        results.append(r)
    return results
