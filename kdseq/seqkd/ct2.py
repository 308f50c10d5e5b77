"""A fairseq checkpoint converted to CTranslate2 once, kept under a cache folder named by its sha256."""
import json
import logging
import os
import time

log = logging.getLogger(__name__)


def ct2_cache_root():
    return os.environ.get("KDSEQ_CT2_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kdseq", "ct2")


def convert_to_ct2(checkpoint, teacher_sha, dict_dir, src_lang, tgt_lang, cache_root=None):
    """Convert a fairseq checkpoint to CTranslate2 (float32 weights; quantized at load time) once: the result
    is kept under ``cache_root/<sha256 of the checkpoint>`` and reused. Returns (dir, seconds spent)."""
    from ctranslate2.converters import FairseqConverter

    from kdseq.fileio import staged_dir

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
