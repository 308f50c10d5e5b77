"""A fairseq checkpoint converted to CTranslate2 once, kept under a cache folder named by its sha256."""
import json
import logging
import os
import time

from kdseq.data.binarized import Dictionary, symbols_sha256
from kdseq.fileio import atomic_write, staged_dir

log = logging.getLogger(__name__)


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
    start = time.perf_counter()
    with staged_dir(dest, exists="keep", flag="--ct2-cache") as tmp:  # another process may convert it first
        out = os.path.join(tmp, "model")
        FairseqConverter(checkpoint, dict_dir, source_lang=src_lang, target_lang=tgt_lang,
                         unsafe_deserialization=True).convert(out, quantization=None, force=True)
        for name in os.listdir(out):
            os.replace(os.path.join(out, name), os.path.join(tmp, name))
        os.rmdir(out)
        with open(os.path.join(tmp, "kdseq-source.json"), "w") as f:
            json.dump({"checkpoint": os.path.abspath(checkpoint), "sha256": teacher_sha}, f)
    return dest, time.perf_counter() - start


TEACHER_META = "kdseq-teacher.json"


def write_teacher_meta(model_dir, sha, dict_dir, langs, max_positions):
    """What decoding needs to know of a converted teacher, beside its conversion: its languages, the folder
    and symbols of its dictionaries, its positions. A later regeneration with the same checkpoint reads this
    instead of loading the checkpoint (no fairseq, no torch: seconds of start-up)."""
    path = os.path.join(model_dir, TEACHER_META)
    syms = teacher_dict_shas(dict_dir, langs)
    meta = {"sha256": sha, "dict_dir": os.path.abspath(dict_dir), "langs": list(langs),
            "max_positions": [int(x) for x in max_positions], "source_symbols": syms[0], "target_symbols": syms[1]}
    try:
        with open(path) as f:
            if json.load(f) == meta:
                return
    except (OSError, ValueError):
        pass
    atomic_write(path, json.dumps(meta, indent=1, sort_keys=True) + "\n")


def teacher_dict_shas(dict_dir, langs):
    """sha256 of the symbols of ``dict.<lang>.txt`` in ``dict_dir``, for each of the teacher's two languages (what
    the record keeps of its dictionaries)."""
    return [symbols_sha256(Dictionary.load(os.path.join(dict_dir, f"dict.{lang}.txt")).symbols) for lang in langs]


def read_teacher_meta(sha, cache_root=None):
    """The converted teacher of checkpoint ``sha`` and its metadata, if both are in the cache: (dir, meta)."""
    dest = os.path.join(cache_root or ct2_cache_root(), sha[:32])
    try:
        with open(os.path.join(dest, TEACHER_META)) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if not _meta_ok(meta) or meta["sha256"] != sha or not os.path.exists(os.path.join(dest, "model.bin")):
        return None  # unknown or damaged (e.g. edited by hand): the caller loads the checkpoint and rewrites it
    return dest, meta


_META_TYPES = {"sha256": str, "dict_dir": str, "langs": list, "max_positions": list, "source_symbols": str,
               "target_symbols": str}


def _meta_ok(meta):
    return isinstance(meta, dict) and all(isinstance(meta.get(k), t) for k, t in _META_TYPES.items()) and \
        len(meta["langs"]) == 2 and all(isinstance(x, str) for x in meta["langs"]) and \
        len(meta["max_positions"]) == 2 and all(type(x) is int for x in meta["max_positions"])


# The PyPI builds of CTranslate2 4.x load cuBLAS 12 when they first decode on a GPU: a machine whose CUDA is
# another major version (e.g. 13) counts its GPUs but fails at the first translation.
CT2_CUBLAS = "libcublas.so.12"


def ct2_cuda_available():
    """True where CTranslate2 sees a GPU and can load the cuBLAS it was built against."""
    try:
        import ctypes

        import ctranslate2

        if ctranslate2.get_cuda_device_count() < 1:
            return False
        ctypes.CDLL(CT2_CUBLAS)
        return True
    except Exception:
        return False
