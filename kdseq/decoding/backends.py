"""Decoding a :class:`kdseq.decoding.corpus.Corpus` with either backend, behind one interface:
``decode_batches(batches)`` yields, for each batch of sentence ids, the (hypotheses, scores) of each sentence. Both
read ``corpus.teacher_ids(i)`` (cut to the model's positions), so a source too long for the model is truncated and
counted, never fatal. ``kdseq-regenerate`` (the teacher, :func:`make_backend`) and ``kdseq-evaluate`` (a checkpoint as
it would be deployed, :func:`ctranslate2_backend`) both decode through here.

torch and fairseq are imported inside the fairseq backend only: a CTranslate2 decode never loads them (seconds of
start-up)."""
import logging
import os
from typing import NamedTuple, Tuple

from kdseq.decoding.ct2 import CT2_CUBLAS, convert_to_ct2, ct2_cuda_available
from kdseq.errors import KdseqError

log = logging.getLogger(__name__)


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


def decode_all(backend, ids, lengths, max_tokens, max_sentences):
    """{id: (hypotheses, scores)} of every sentence of ``ids``, decoded in length batches."""
    out = {}
    for batch, res in backend.decode_batches(length_batches(ids, lengths, max_tokens, max_sentences)):
        out.update(zip(batch, res))
    return out


class Checkpoint(NamedTuple):
    """One fairseq checkpoint as CTranslate2 converts it: its file, sha256 (the conversion cache's key), and the
    folder and language codes of its dictionaries."""
    path: str
    sha256: str
    dict_dir: str
    langs: Tuple[str, str]


class CT2Unavailable(KdseqError):
    """CTranslate2 cannot decode this checkpoint here (the reason is the message): not installed, not
    convertible, or a GPU it cannot use."""


class FairseqBackend:
    """fairseq's SequenceGenerator over the teacher (one checkpoint or an ensemble)."""

    name = "fairseq"

    def __init__(self, teacher, corpus, search, device, fp16):
        import torch

        from kdseq.decoding.generator import build_generator  # imports torch and fairseq

        self.corpus, self.device, self.nbest = corpus, device, search.nbest
        teacher.to(torch.device(device), torch.float16 if fp16 else torch.float32)
        self.models = teacher.models
        self.generator = build_generator(self.models, corpus.teacher_task.target_dictionary, search)
        self.compute_type = "float16" if fp16 else "float32"

    def decode_batches(self, batches):
        for batch in batches:
            yield batch, self.decode(batch)

    def decode(self, batch):
        import torch
        from fairseq import utils

        from kdseq.decoding.generator import nbest_hypotheses  # imports torch and fairseq

        c = self.corpus
        eos = c.teacher_src_dict.eos()
        items = [{"id": i, "source": torch.LongTensor(c.teacher_ids(i) + [eos])} for i in batch]
        sample = c.teacher_dataset.collater(items)
        if self.device != "cpu":
            sample = utils.move_to_cuda(sample, device=torch.device(self.device))
        with torch.no_grad():
            out = c.teacher_task.inference_step(self.generator, self.models, sample)
        res = {}
        for row, sid in enumerate(sample["id"].tolist()):
            pairs = nbest_hypotheses(out[row], c.tgt_dict, self.nbest)
            res[sid] = ([toks for toks, _ in pairs], [round(score, 6) for _, score in pairs])
        return [res[i] for i in batch]


class CTranslate2Backend:
    """The teacher converted to CTranslate2 (cached), decoding the same pieces.

    On CPU the batches of a chunk are all submitted at once and ``threads`` translators (one core each) work
    on them side by side: for models of this size that is about twice as fast on 2 cores as one translator
    using both cores for each (small) matrix product.
    """

    name = "ctranslate2"

    def __init__(self, model_dir, corpus, search, device, compute_type, threads, max_target=1024, latency=False):
        """``search``: a :class:`kdseq.decoding.search.Search` (its beam may be replaced between decodes);
        ``latency``: one translator using ``threads`` cores for each decode (batch 1: a service's latency), not
        ``threads`` one-core translators side by side."""
        import ctranslate2

        self.corpus, self.search = corpus, search
        self.max_output = max_target - 1  # as fairseq's generator: never past the decoder's positions
        self.compute_type = compute_type
        inter, intra = ((1, threads) if latency else (threads, 1)) if device == "cpu" else (1, 1)
        try:
            self.translator = ctranslate2.Translator(model_dir, device=device, compute_type=compute_type,
                                                     inter_threads=inter, intra_threads=intra)
        except ValueError as e:
            raise KdseqError(f"--compute-type {compute_type} on {device}: {e}") from None
        self.src_symbols = corpus.teacher_src_dict.symbols
        self.tgt_index = corpus.tgt_dict.indices
        self.unk = corpus.tgt_dict.unk()

    def _submit(self, batch):
        src = [[self.src_symbols[t] for t in self.corpus.teacher_ids(i)] for i in batch]
        longest = max(len(s) for s in src) + 1  # fairseq counts the source EOS
        s = self.search
        return self.translator.translate_batch(
            src, beam_size=s.beam, num_hypotheses=s.nbest, length_penalty=s.lenpen, return_scores=True,
            max_decoding_length=min(int(s.max_len_a * longest + s.max_len_b), self.max_output),
            max_input_length=0, no_repeat_ngram_size=s.no_repeat_ngram_size,
            asynchronous=True)

    def _collect(self, pending):
        out = [p.result() for p in pending]
        return [([[self.tgt_index.get(t, self.unk) for t in h] for h in r.hypotheses],
                 [round(float(s), 6) for s in r.scores]) for r in out]

    def decode_batches(self, batches):
        pending = [(b, self._submit(b)) for b in batches]
        for b, p in pending:
            yield b, self._collect(p)


def default_compute_type(device, compute_type):
    return compute_type if compute_type != "auto" else ("float16" if device == "cuda" else "float32")


def gpu_present():
    """Whether this machine has a GPU driver at all (NVIDIA or ROCm), without importing torch."""
    return os.path.isdir("/proc/driver/nvidia/gpus") or os.path.exists("/dev/kfd")


def ct2_device(device):
    """The device CTranslate2 decodes on for ``--device`` where that is certain without importing torch:
    'cpu', 'cuda', or None (a GPU that CTranslate2 cannot use: make_backend decides, with torch)."""
    if device == "cpu":
        return "cpu"
    if ct2_cuda_available():
        return "cuda"
    if device == "auto" and not gpu_present():
        return "cpu"
    return None


def ctranslate2_backend(checkpoint, corpus, search, runtime, max_target=1024):
    """``checkpoint`` (a :class:`Checkpoint`) converted to CTranslate2 once (cached by its sha256) and opened on
    ``runtime.device`` (:class:`kdseq.decoding.runtime.Runtime`: device, compute type, threads, cache folder). Returns
    (backend, info with convert_s, device and model_dir); raises :class:`CT2Unavailable` with the reason where
    CTranslate2 cannot decode it here."""
    try:
        import ctranslate2  # noqa: F401  (optional: the fairseq backend decodes without it)
    except ImportError:
        raise CT2Unavailable("ctranslate2 is not installed (pip install ctranslate2)") from None
    device = runtime.device
    if ct2_device(device) is None and (device == "cuda" or _torch_gpu()):
        # e.g. a CUDA 13 machine: CTranslate2 on its CPU would be far slower than fairseq on its GPU
        raise CT2Unavailable(f"CTranslate2 cannot decode on this GPU (no GPU for it, or no {CT2_CUBLAS})")
    try:
        model_dir, convert_s = convert_to_ct2(checkpoint.path, checkpoint.sha256, checkpoint.dict_dir,
                                              *checkpoint.langs, runtime.ct2_cache)
    except KdseqError:
        raise
    except Exception as e:  # the converter raises ValueError/AssertionError for what it cannot convert
        raise CT2Unavailable(f"CTranslate2 cannot convert {checkpoint.path}: {type(e).__name__}: {e}") from None
    dev = device if device != "auto" else ("cuda" if ct2_cuda_available() else "cpu")
    backend = open_ctranslate2(model_dir, dev, corpus, search, runtime, max_target)
    return backend, {"convert_s": convert_s, "device": dev, "model_dir": model_dir}


def open_ctranslate2(model_dir, device, corpus, search, runtime, max_target=1024):
    """A converted model (``model_dir``) opened on ``device`` with ``runtime``'s compute type (resolved) and
    threads."""
    return CTranslate2Backend(model_dir, corpus, search, device, default_compute_type(device, runtime.compute_type),
                              runtime.workers(), max_target)


def make_backend(corpus, teacher, teacher_sha, search, runtime, max_target=1024):
    """The teacher's backend that ``runtime.backend`` asks for; 'auto' is CTranslate2 where it can decode the
    teacher, otherwise fairseq with a one-line reason. ``search``: a :class:`kdseq.decoding.search.Search`,
    ``runtime``: a :class:`kdseq.decoding.runtime.Runtime`. Returns (backend, info dict with convert_s and device)."""
    want, device, compute_type = runtime.backend, runtime.device, runtime.compute_type
    if want in ("auto", "ctranslate2"):
        try:
            if len(teacher.paths) > 1:
                raise CT2Unavailable(f"CTranslate2 cannot decode an ensemble ({len(teacher.paths)} checkpoints)")
            checkpoint = Checkpoint(teacher.paths[0], teacher_sha[0], teacher.dict_dirs[0], teacher.langs[0])
            return ctranslate2_backend(checkpoint, corpus, search, runtime, max_target)
        except CT2Unavailable as e:
            if want == "ctranslate2":
                raise KdseqError(f"--backend ctranslate2: {e}; use --backend fairseq") from None
            log.info(f"{e}: using the fairseq backend")
    import torch  # the fairseq backend's (a CTranslate2 decode never imports it)

    dev = device if device != "auto" else ("cuda" if _torch_gpu() else "cpu")
    if compute_type not in ("auto", "float32", "float16"):
        raise KdseqError(f"--compute-type {compute_type}: the fairseq backend decodes in float32 or float16")
    fp16 = compute_type == "float16" or (compute_type == "auto" and dev == "cuda")
    if runtime.threads:
        torch.set_num_threads(runtime.threads)
    return FairseqBackend(teacher, corpus, search, dev, fp16), {"convert_s": 0.0, "device": dev}


def _torch_gpu():
    if not gpu_present():
        return False
    import torch

    return torch.cuda.is_available()
