"""Sequence-level distillation (Kim & Rush 2016): the teacher regenerates the target side of a corpus.

``kdseq-regenerate`` decodes the source side of a binarized split with the teacher (beam search, n-best) and
writes a distilled corpus, in exactly the source's order, binarized with the teacher's dictionaries.

Work is cut into chunks of ``--chunk-size`` consecutive sentences. Each chunk is decoded (sorted by length
inside, put back in order by sentence id) and written atomically as one file; a killed run restarts from the
first chunk that has no file. Chunk ``c`` belongs to shard ``c % num_shards``, so N machines each take a shard
of one folder and ``--merge`` puts the chunks back together in corpus order. The chunk is the unit of work:
changing the number of shards between runs is safe; changing anything that changes the hypotheses (teacher,
beam, n-best, backend, compute type, ...) is refused.

Layout of ``--out-dir OUT``::

    state.json                 the decoding settings every chunk was made with (and a data fingerprint)
    chunks/<split>.NNNNNN.jsonl  one JSON line per sentence: {"id", "hyps": [[target ids]...], "scores"}
    <select>/bin/              the distilled split binarized with the teacher's dictionaries, the other splits
                               of the data folder copied: give it to fairseq-train as it is
    <select>/text/<split>.{src,tgt}  the same pairs as sentencepiece pieces; raw/: detokenized
    <select>/regenerate.json   counts (kept, dropped by each filter), mean sentence BLEU against the references

``<select>`` is ``best`` (seq-KD: the teacher's top beam hypothesis), ``bleu`` or ``chrf`` (seq-inter: the
n-best hypothesis closest to the reference by smoothed sentence BLEU, or sentence chrF). One decode with
``--nbest K`` serves all of them.
"""
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter

import torch

from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write

SELECTORS = ("best", "bleu", "chrf")
STATE_KEYS = ("split", "data_fingerprint", "teacher_sha256", "backend", "compute_type", "beam", "nbest", "lenpen",
              "max_len_a", "max_len_b", "chunk_size")


# ----------------------------------------------------------------------------------------------- helpers

def file_sha256(path, block=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(block), b""):
            h.update(b)
    return h.hexdigest()


def detok(pieces):
    """sentencepiece pieces (a list of strings) -> text, as fairseq's ``--post-process sentencepiece``."""
    return "".join(pieces).replace("\u2581", " ").strip()


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


def degenerate_reason(hyp, src, max_len_ratio, max_repeats):
    """Why a hypothesis (list of pieces) is dropped for source ``src``, or None. Reasons: 'empty',
    'length_ratio' (hyp/src or src/hyp pieces above ``max_len_ratio``), 'repeats' (an n-gram repeated back to
    back at least ``max_repeats`` times, more than anything in the source)."""
    if not hyp:
        return "empty"
    if max_len_ratio and max(len(hyp) / max(len(src), 1), len(src) / len(hyp)) > max_len_ratio:
        return "length_ratio"
    if max_repeats:
        r = max_tandem_repeat(hyp)
        if r >= max_repeats and r > max_tandem_repeat(src):
            return "repeats"
    return None


class SentenceBLEU:
    """sacreBLEU's sentence BLEU (``BLEU(effective_order=True).sentence_score``: exp smoothing, effective order,
    one reference, the target language's tokenizer), with each text's n-grams counted once: a reference is
    compared with every hypothesis of its n-best list. Tested equal to sacreBLEU."""

    def __init__(self, tgt_lang):
        from sacrebleu.metrics import BLEU

        from kdseq.metrics import sacrebleu_tokenize

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


def select_hypothesis(texts, ref, score):
    """Index of the text in ``texts`` (an n-best list, best first) that ``score`` rates highest against ``ref``;
    ties go to the better-ranked hypothesis."""
    return first_argmax([score(t, ref) for t in texts])


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
            items = [([detok([tgt_sym[t] for t in h]) for h in r["hyps"]],
                      detok([tgt_sym[t] for t in corpus.ref_ids(r["id"])])) for r in rows[a:a + slice_size]]
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


def length_batches(ids, lengths, max_tokens, max_sentences):
    """Cut ``ids`` sorted by length (longest first) into batches of at most ``max_tokens`` padded source tokens
    and ``max_sentences`` sentences."""
    order = sorted(ids, key=lambda i: (-lengths[i], i))
    batch, longest = [], 0
    for i in order:
        n = max(longest, lengths[i])
        if batch and (n * (len(batch) + 1) > max_tokens or len(batch) >= max_sentences):
            yield batch
            batch, n = [], lengths[i]
        batch.append(i)
        longest = n
    if batch:
        yield batch


# ----------------------------------------------------------------------------------------------- corpus

class Corpus:
    """A binarized split: source ids, reference ids (if any) and the dictionaries, from a fairseq data folder."""

    def __init__(self, data_dir, split):
        from kdseq.checkpoints import translation_task

        self.data_dir, self.split = data_dir, split
        self.task = translation_task(data_dir)
        cfg = self.task.cfg
        self.src_lang, self.tgt_lang = cfg.source_lang, cfg.target_lang
        try:
            self.task.load_dataset(split)
        except FileNotFoundError as e:
            raise KdseqError(f"{data_dir}: no binarized split {split!r} ({e}); --split names one of the "
                             f"{{split}}.{self.src_lang}-{self.tgt_lang}.* files there") from None
        ds = self.task.dataset(split)
        self.dataset = ds
        self.src_dict, self.tgt_dict = self.task.source_dictionary, self.task.target_dictionary
        self.lengths = [int(x) for x in ds.src_sizes]
        self.has_refs = ds.tgt is not None

    def __len__(self):
        return len(self.lengths)

    def src_ids(self, i):
        return self.dataset.src[i][:-1].tolist()  # without EOS

    def ref_ids(self, i):
        return self.dataset.tgt[i][:-1].tolist()

    def fingerprint(self):
        """The source dictionary and every source sentence (a resume must translate the same sentences)."""
        from kdseq.cache import fingerprint

        return fingerprint(self.dataset, self.src_dict, target=False)


# ----------------------------------------------------------------------------------------------- backends

class FairseqBackend:
    """fairseq's SequenceGenerator over the teacher (one checkpoint or an ensemble)."""

    name = "fairseq"

    def __init__(self, teacher, corpus, beam, nbest, lenpen, max_len_a, max_len_b, device, fp16):
        from kdseq.decode import build_generator

        self.corpus, self.device, self.nbest = corpus, device, nbest
        teacher.to(torch.device(device), torch.float16 if fp16 else torch.float32)
        self.models = teacher.models
        self.generator = build_generator(corpus.task, self.models, beam, lenpen, max_len_a, max_len_b, nbest)
        self.compute_type = "float16" if fp16 else "float32"

    def decode_batches(self, batches):
        """Yield (batch, [(hyps, scores) per sentence of the batch]) for each batch, in turn."""
        for batch in batches:
            yield batch, self.decode(batch)

    @torch.no_grad()
    def decode(self, batch):
        from fairseq import utils

        from kdseq.decode import nbest_hypotheses

        ds = self.corpus.dataset
        sample = ds.collater([ds[i] for i in batch])
        if self.device != "cpu":
            sample = utils.move_to_cuda(sample, device=torch.device(self.device))
        out = self.corpus.task.inference_step(self.generator, self.models, sample)
        res = {}
        for row, sid in enumerate(sample["id"].tolist()):
            pairs = nbest_hypotheses(out[row], self.corpus.tgt_dict, self.nbest)
            res[sid] = ([toks for toks, _ in pairs], [round(score, 6) for _, score in pairs])
        return [res[i] for i in batch]


class CTranslate2Backend:
    """The teacher converted to CTranslate2 (cached), decoding the same pieces.

    On CPU the batches of a chunk are all submitted at once and ``threads`` translators (one core each) work
    on them side by side: for models of this size that is about twice as fast on 2 cores as one translator
    using both cores for each (small) matrix product.
    """

    name = "ctranslate2"

    def __init__(self, model_dir, corpus, beam, nbest, lenpen, max_len_a, max_len_b, device, compute_type,
                 threads):
        import ctranslate2

        self.corpus, self.beam, self.nbest, self.lenpen = corpus, beam, nbest, lenpen
        self.max_len_a, self.max_len_b = max_len_a, max_len_b
        self.compute_type = compute_type
        inter, intra = (threads, 1) if device == "cpu" else (1, 1)
        try:
            self.translator = ctranslate2.Translator(model_dir, device=device, compute_type=compute_type,
                                                     inter_threads=inter, intra_threads=intra)
        except ValueError as e:
            raise KdseqError(f"--compute-type {compute_type} on {device}: {e}") from None
        self.src_symbols = corpus.src_dict.symbols
        self.tgt_index = corpus.tgt_dict.indices
        self.unk = corpus.tgt_dict.unk()

    def _submit(self, batch):
        src = [[self.src_symbols[t] for t in self.corpus.src_ids(i)] for i in batch]
        longest = max(len(s) for s in src) + 1  # fairseq counts the source EOS
        return self.translator.translate_batch(
            src, beam_size=self.beam, num_hypotheses=self.nbest, length_penalty=self.lenpen, return_scores=True,
            max_decoding_length=int(self.max_len_a * longest + self.max_len_b), max_input_length=0,
            asynchronous=True)

    def _collect(self, pending):
        out = [p.result() for p in pending]
        return [([[self.tgt_index.get(t, self.unk) for t in h] for h in r.hypotheses],
                 [round(float(s), 6) for s in r.scores]) for r in out]

    def decode_batches(self, batches):
        pending = [(b, self._submit(b)) for b in batches]
        for b, p in pending:
            yield b, self._collect(p)

    def decode(self, batch):
        return self._collect(self._submit(batch))


def ct2_cache_root():
    return os.environ.get("KDSEQ_CT2_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kdseq", "ct2")


def convert_to_ct2(checkpoint, teacher_sha, dict_dir, src_lang, tgt_lang, cache_root=None):
    """Convert a fairseq checkpoint to CTranslate2 (float32 weights; quantized at load time) once: the result
    is kept under ``cache_root/<sha256 of the checkpoint>`` and reused. Returns (dir, seconds spent)."""
    from ctranslate2.converters import FairseqConverter

    cache_root = cache_root or ct2_cache_root()
    dest = os.path.join(cache_root, teacher_sha[:32])
    if os.path.exists(os.path.join(dest, "model.bin")):
        return dest, 0.0
    os.makedirs(cache_root, exist_ok=True)
    start = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=cache_root)
    try:
        out = os.path.join(tmp, "model")
        FairseqConverter(checkpoint, dict_dir, source_lang=src_lang, target_lang=tgt_lang,
                         unsafe_deserialization=True).convert(out, quantization=None, force=True)
        with open(os.path.join(out, "kdseq-source.json"), "w") as f:
            json.dump({"checkpoint": os.path.abspath(checkpoint), "sha256": teacher_sha}, f)
        try:
            os.replace(out, dest)
        except OSError:  # another process converted it first
            if not os.path.exists(os.path.join(dest, "model.bin")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest, time.perf_counter() - start


def ct2_cuda_available():
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:
        return False


def make_backend(a, corpus, teacher, teacher_sha, log):
    """The backend ``a.backend`` asks for; 'auto' is CTranslate2 where it can decode the teacher, otherwise
    fairseq with a one-line reason. Returns (backend, info dict)."""
    info = {"convert_s": 0.0}
    want = a.backend
    reason = None
    if want in ("auto", "ctranslate2"):
        if len(teacher.paths) > 1:
            reason = f"CTranslate2 cannot decode an ensemble ({len(teacher.paths)} checkpoints)"
        else:
            try:
                import ctranslate2  # noqa: F401
            except ImportError:
                reason = "ctranslate2 is not installed (pip install ctranslate2)"
        if reason is None:
            try:
                model_dir, info["convert_s"] = convert_to_ct2(
                    teacher.paths[0], teacher_sha[0], teacher.dict_dirs[0], corpus.src_lang, corpus.tgt_lang,
                    a.ct2_cache)
            except KdseqError:
                raise
            except Exception as e:  # the converter raises ValueError/AssertionError for what it cannot convert
                reason = f"CTranslate2 cannot convert {teacher.paths[0]}: {type(e).__name__}: {e}"
        if reason is not None:
            if want == "ctranslate2":
                raise KdseqError(f"--backend ctranslate2: {reason}; use --backend fairseq")
            log(f"{reason}: using the fairseq backend")
        else:
            device = a.device if a.device != "auto" else ("cuda" if ct2_cuda_available() else "cpu")
            compute = a.compute_type if a.compute_type != "auto" else ("float16" if device == "cuda" else "float32")
            info.update(model_dir=model_dir, device=device)
            return CTranslate2Backend(model_dir, corpus, a.beam, a.nbest, a.lenpen, a.max_len_a, a.max_len_b,
                                      device, compute, a.threads or os.cpu_count() or 1), info
    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if a.compute_type not in ("auto", "float32", "float16"):
        raise KdseqError(f"--compute-type {a.compute_type}: the fairseq backend decodes in float32 or float16")
    fp16 = a.compute_type == "float16" or (a.compute_type == "auto" and device == "cuda")
    if a.threads:
        torch.set_num_threads(a.threads)
    info["device"] = device
    return FairseqBackend(teacher, corpus, a.beam, a.nbest, a.lenpen, a.max_len_a, a.max_len_b, device, fp16), info


# ----------------------------------------------------------------------------------------------- decoding

def chunk_path(out_dir, split, c):
    return os.path.join(out_dir, "chunks", f"{split}.{c:06d}.jsonl")


def missing_chunks(out_dir, corpus, chunk_size):
    """The chunks of ``corpus`` that have no file in ``out_dir`` yet, and how many chunks there are."""
    n_chunks = (len(corpus) + chunk_size - 1) // chunk_size
    return [c for c in range(n_chunks) if not os.path.exists(chunk_path(out_dir, corpus.split, c))], n_chunks


def check_state(out_dir, state):
    """Write state.json on the first run; later runs (resumes, other shards) must match it."""
    path = os.path.join(out_dir, "state.json")
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        diff = [k for k in STATE_KEYS if old.get(k) != state.get(k)]
        if diff:
            k = diff[0]
            raise KdseqError(f"{path}: this folder was started with {k}={old.get(k)!r}, this run has "
                             f"{state.get(k)!r}: the chunks would mix hypotheses of different decodes. Resume "
                             "with the same settings, or give another --out-dir")
        return
    atomic_write(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


def decode_chunks(backend, corpus, out_dir, chunk_size, num_shards, shard_id, max_tokens, max_sentences,
                  max_chunks=None, progress=True, log=print):
    """Decode this shard's chunks that have no file yet. Returns (sentences decoded, target tokens, seconds)."""
    n = len(corpus)
    missing, n_chunks = missing_chunks(out_dir, corpus, chunk_size)
    todo = [c for c in missing if c % num_shards == shard_id]
    mine = sum(1 for c in range(n_chunks) if c % num_shards == shard_id)
    if max_chunks is not None:
        todo = todo[:max_chunks]
    if mine > len(todo) and todo:
        log(f"resuming: {mine - len(todo)} of this shard's {mine} chunks are already done")
    os.makedirs(os.path.join(out_dir, "chunks"), exist_ok=True)
    total = sum(min(chunk_size, n - c * chunk_size) for c in todo)
    bar = None
    if progress and total:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="sent", desc=f"regenerate {corpus.split}", file=sys.stderr,
                   mininterval=1.0, dynamic_ncols=True)
    done_sents, done_tokens = 0, 0
    start = time.perf_counter()
    for c in todo:
        ids = list(range(c * chunk_size, min((c + 1) * chunk_size, n)))
        results = {}
        for batch, res in backend.decode_batches(length_batches(ids, corpus.lengths, max_tokens, max_sentences)):
            results.update(zip(batch, res))
            if bar is not None:
                bar.update(len(batch))
        lines = []
        for i in ids:
            hyps, scores = results[i]
            lines.append(json.dumps({"id": i, "hyps": hyps, "scores": scores}, separators=(",", ":")))
            done_tokens += len(hyps[0]) + 1 if hyps else 1
        atomic_write(chunk_path(out_dir, corpus.split, c), "\n".join(lines) + "\n")
        done_sents += len(ids)
    if bar is not None:
        bar.close()
    return done_sents, done_tokens, time.perf_counter() - start


def read_chunks(out_dir, corpus, chunk_size, num_shards=1):
    """The n-best lists of every sentence in corpus order; a missing or damaged chunk is named."""
    n = len(corpus)
    missing, n_chunks = missing_chunks(out_dir, corpus, chunk_size)
    if missing:
        c = missing[0]
        raise KdseqError(f"{len(missing)} of {n_chunks} chunks are not decoded yet, first {chunk_path(out_dir, corpus.split, c)} "
                         f"(sentences {c * chunk_size}-{min((c + 1) * chunk_size, n) - 1}, shard {c % num_shards} "
                         f"of {num_shards}): run that shard (it resumes) before --merge")
    out = []
    for c in range(n_chunks):
        path = chunk_path(out_dir, corpus.split, c)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        first = c * chunk_size
        expected = min(chunk_size, n - first)
        try:
            rows = [json.loads(x) for x in lines]
        except json.JSONDecodeError as e:
            raise KdseqError(f"{path}: damaged chunk ({e}): delete it and rerun to decode it again") from None
        if len(rows) != expected or [r["id"] for r in rows] != list(range(first, first + expected)):
            raise KdseqError(f"{path}: holds {len(rows)} sentences, expected ids {first}-{first + expected - 1}: "
                             "delete it and rerun to decode it again")
        out.extend(rows)
    return out


# ----------------------------------------------------------------------------------------------- merging

def write_binarized(path_prefix, seqs, dictionary):
    from fairseq.data import indexed_dataset

    builder = indexed_dataset.make_builder(path_prefix + ".bin", impl="mmap", vocab_size=len(dictionary))
    eos = dictionary.eos()
    for s in seqs:
        builder.add_item(torch.IntTensor(list(s) + [eos]))
    builder.finalize(path_prefix + ".idx")


def merge(corpus, rows, out_dir, select, max_len_ratio, max_repeats, keep_original, teacher_dict_dir, meta,
          scores=None):
    """Write ``out_dir/<select>/`` (see the module docstring) atomically. Returns its counts. ``scores``: the
    :func:`nbest_scores` of ``rows`` for ``select`` (unless ``best``) and ``bleu``, computed here if not given."""
    from kdseq.metrics import sacrebleu_tokenize  # noqa: F401  (imports sacrebleu early: clear error if absent)

    split, src_lang, tgt_lang = corpus.split, corpus.src_lang, corpus.tgt_lang
    tgt_sym, src_sym = corpus.tgt_dict.symbols, corpus.src_dict.symbols
    if select != "best" and not corpus.has_refs:
        raise KdseqError(f"--select {select} needs references: {corpus.data_dir} has no {tgt_lang} side for "
                         f"{split}")
    if keep_original and not corpus.has_refs:
        raise KdseqError(f"--keep-original: {corpus.data_dir} has no {tgt_lang} side for {split}")
    if select != "best":
        sentence_scorer(select, tgt_lang)  # an unknown selector is refused before any work
    needed = sorted({select, "bleu"} - {"best"}) if corpus.has_refs else []
    if scores is None or any(m not in scores for m in needed):
        scores = nbest_scores(rows, corpus, needed)
    sel_scores = scores[select] if select != "best" else None
    bleu_scores = scores["bleu"] if corpus.has_refs else None
    dropped = {"empty": 0, "length_ratio": 0, "repeats": 0}
    src_out, tgt_out = [], []
    picked_rank = [0] * (max(len(r["hyps"]) for r in rows) if rows else 1)
    sbleu_sum, originals_added = 0.0, 0
    for j, r in enumerate(rows):
        i = r["id"]
        src_ids = corpus.src_ids(i)
        src_pieces = [src_sym[t] for t in src_ids]
        ref_ids = corpus.ref_ids(i) if corpus.has_refs else None
        hyps = r["hyps"]
        k = first_argmax(sel_scores[j]) if sel_scores is not None and len(hyps) > 1 else 0
        hyp = hyps[k] if hyps else []
        hyp_pieces = [tgt_sym[t] for t in hyp]
        why = degenerate_reason(hyp_pieces, src_pieces, max_len_ratio, max_repeats)
        if why:
            dropped[why] += 1
        else:
            picked_rank[k] += 1
            if bleu_scores is not None:
                sbleu_sum += bleu_scores[j][k]
            src_out.append(src_ids)
            tgt_out.append(hyp)
        if keep_original and (why or hyp != ref_ids):
            src_out.append(src_ids)
            tgt_out.append(ref_ids)
            originals_added += 1
    kept = len(rows) - sum(dropped.values())
    counts = {"sentences": len(rows), "distilled_kept": kept, "dropped": dropped,
              "originals_added": originals_added, "pairs_written": len(src_out),
              "picked_nbest_rank": picked_rank if sel_scores is not None else None,
              "mean_sentence_bleu_vs_reference": round(sbleu_sum / kept, 3) if bleu_scores is not None and kept
              else None}

    dest = os.path.join(out_dir, select)
    tmp = tempfile.mkdtemp(prefix=f".{select}.tmp-", dir=out_dir)
    try:
        bin_dir, text_dir, raw_dir = (os.path.join(tmp, d) for d in ("bin", "text", "raw"))
        for d in (bin_dir, text_dir, raw_dir):
            os.makedirs(d)
        pair = f"{src_lang}-{tgt_lang}"
        for lang, seqs, sym in ((src_lang, src_out, src_sym), (tgt_lang, tgt_out, tgt_sym)):
            write_binarized(os.path.join(bin_dir, f"{split}.{pair}.{lang}"), seqs, corpus.src_dict
                            if lang == src_lang else corpus.tgt_dict)
            with open(os.path.join(text_dir, f"{split}.{lang}"), "w", encoding="utf-8") as ft, \
                    open(os.path.join(raw_dir, f"{split}.{lang}"), "w", encoding="utf-8") as fr:
                for s in seqs:
                    p = [sym[t] for t in s]
                    ft.write(" ".join(p) + "\n")
                    fr.write(detok(p) + "\n")
        for lang in (src_lang, tgt_lang):  # the teacher's dictionaries (checked equal to the data's)
            shutil.copy(os.path.join(teacher_dict_dir, f"dict.{lang}.txt"), bin_dir)
        for name in sorted(os.listdir(corpus.data_dir)):  # the other splits (gold valid/test), unchanged
            if name.endswith((".bin", ".idx")) and not name.startswith(f"{split}.{pair}."):
                shutil.copy(os.path.join(corpus.data_dir, name), bin_dir)
        with open(os.path.join(tmp, "regenerate.json"), "w") as f:
            json.dump({**meta, "select": select, "max_len_ratio": max_len_ratio, "max_repeats": max_repeats,
                       "keep_original": keep_original, **counts}, f, indent=1, sort_keys=True)
        old = None
        if os.path.exists(dest):
            old = dest + f".old-{os.getpid()}"
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
