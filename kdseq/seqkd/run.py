"""The regeneration pipeline: check, decode this shard's missing chunks, and (when every chunk is there) merge.
``kdseq-regenerate`` parses flags and calls :func:`regenerate`; scripts and tests may call it directly."""
import logging
import os
import time

from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, file_sha256, inside

log = logging.getLogger(__name__)


def check_folders(data, out_dir, teacher_source=None):
    for name, folder in (("the data", data), ("--teacher-source", teacher_source)):
        if folder and (inside(out_dir, folder) or inside(folder, out_dir)):
            raise KdseqError(f"--out-dir {out_dir} and {name} {folder} overlap: choose an --out-dir outside the "
                             "data folder (the input is never written to)")
    check_output_dir(out_dir, "state.json")


class ConvertedTeacher:
    """A teacher known from its CTranslate2 conversion's metadata (:func:`kdseq.seqkd.ct2.write_teacher_meta`):
    the attributes of :class:`kdseq.teacher.Teacher` that decoding with CTranslate2 needs, no model loaded."""

    def __init__(self, path, dict_dir, meta, model_dir, device):
        self.paths, self.dict_dirs, self.langs = [path], [dict_dir], [tuple(meta["langs"])]
        self.max_positions = tuple(meta["max_positions"])
        self.model_dir, self.device = model_dir, device


def converted_teacher(paths, shas, corpus, teacher_data, backend, device, ct2_cache):
    """The teacher as its earlier CTranslate2 conversion recorded it, when that gives exactly what loading the
    checkpoint would (one checkpoint, converted and recorded under its sha256; its dictionaries, found where
    they were or in --teacher-data, unchanged and equal to the data's; a device certain without torch), so that
    the checkpoint is not loaded and neither fairseq nor torch is imported. Otherwise None: the caller loads
    the teacher, which also gives any error its full message. ``paths``/``shas``: the teacher's checkpoints and
    their sha256. Returns a :class:`ConvertedTeacher` or None."""
    from kdseq.data.binarized import symbols_sha256
    from kdseq.seqkd.backends import ct2_device
    from kdseq.seqkd.ct2 import read_teacher_meta, teacher_dict_shas

    if backend == "fairseq" or len(paths) != 1:
        return None
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return None
    dev = ct2_device(device)
    if dev is None:
        return None
    found = read_teacher_meta(shas[0], ct2_cache)
    if found is None:
        return None
    model_dir, meta = found
    dict_dir = teacher_data or meta["dict_dir"]
    want = [meta["source_symbols"], meta["target_symbols"]]
    try:
        teacher_dicts = teacher_dict_shas(dict_dir, meta["langs"])
    except (OSError, KdseqError):
        return None
    data_dicts = [symbols_sha256(d.symbols) for d in (corpus.teacher_src_dict, corpus.tgt_dict)]
    if teacher_dicts != want or data_dicts != want:
        return None
    return ConvertedTeacher(paths[0], dict_dir, meta, model_dir, dev)


def regenerate(data, teacher_path, out_dir, split="train", teacher_data=None, teacher_source=None,
               backend="auto", device="auto", compute_type="auto", beam=5, nbest=1, lenpen=1.0, max_len_a=1.2,
               max_len_b=10, max_tokens=None, max_sentences=None, threads=0, ct2_cache=None, chunk_size=2000,
               num_shards=1, shard_id=0, merge=False, max_chunks=None, progress=True, select=("best",),
               max_len_ratio=3.0, max_repeats=4, keep_original=False, headline_ratio=0.0):
    """Regenerate ``split`` of the binarized folder ``data`` with the teacher into ``out_dir`` (layout in
    kdseq/seqkd/__init__.py). Returns a summary dict (counts, speed, timings)."""
    from kdseq.checkpoints import split_paths
    from kdseq.seqkd import chunks, output
    from kdseq.seqkd.backends import CTranslate2Backend, default_compute_type, make_backend
    from kdseq.seqkd.ct2 import write_teacher_meta
    from kdseq.seqkd.corpus import Corpus
    from kdseq.seqkd.scoring import nbest_scores

    t0 = time.perf_counter()
    data, out_dir = os.path.abspath(data), os.path.abspath(out_dir)
    teacher_source = os.path.abspath(teacher_source) if teacher_source else None
    check_folders(data, out_dir, teacher_source)
    corpus = Corpus(data, split, teacher_source)
    paths = split_paths(teacher_path, "--teacher-path")
    shas = [file_sha256(p) for p in paths]
    teacher = converted_teacher(paths, shas, corpus, teacher_data, backend, device, ct2_cache)
    if teacher:  # decoded by CTranslate2 as converted before: the checkpoint is not loaded
        max_source, max_target = teacher.max_positions
    else:
        from kdseq.decode import max_positions
        from kdseq.teacher import Teacher

        teacher = Teacher(teacher_path, corpus.teacher_task, teacher_data, check_source=True)
        max_source, max_target = max_positions(teacher.models)
    corpus.set_max_source(max_source)
    os.makedirs(out_dir, exist_ok=True)
    if isinstance(teacher, ConvertedTeacher):
        info = {"convert_s": 0.0, "device": teacher.device, "model_dir": teacher.model_dir}
        dec = CTranslate2Backend(teacher.model_dir, corpus, beam, nbest, lenpen, max_len_a, max_len_b,
                                 teacher.device, default_compute_type(teacher.device, compute_type),
                                 threads or os.cpu_count() or 1, max_target)
    else:
        dec, info = make_backend(backend, corpus, teacher, shas, beam, nbest, lenpen, max_len_a, max_len_b,
                                 device, compute_type, threads, ct2_cache, max_target)
        if dec.name == "ctranslate2":  # recorded, so that the next run need not load the checkpoint
            write_teacher_meta(info["model_dir"], shas[0], teacher.dict_dirs[0], teacher.langs[0],
                               (max_source, max_target))
    timings = {"load_s": round(time.perf_counter() - t0 - info["convert_s"], 2),
               "convert_s": round(info["convert_s"], 2)}
    state = {"split": split, "data": data, "data_fingerprint": corpus.fingerprint(),
             "teacher_source": teacher_source, "teacher_source_fingerprint": corpus.teacher_fingerprint(),
             "teacher": teacher.paths, "teacher_sha256": shas, "backend": dec.name, "compute_type": dec.compute_type,
             "beam": beam, "nbest": nbest, "lenpen": lenpen, "max_len_a": max_len_a, "max_len_b": max_len_b,
             "chunk_size": chunk_size, "sentences": len(corpus)}
    chunks.check_state(out_dir, state)
    gpu = info["device"].startswith("cuda")
    if max_tokens is None:
        max_tokens = 16384 if gpu else 2048 if dec.name == "ctranslate2" else 4096
    if max_sentences is None:
        max_sentences = 1024 if gpu else 256
    summary = {"backend": dec.name, "compute_type": dec.compute_type, "device": info["device"],
               "sentences": len(corpus), "truncated_sources": corpus.truncated}
    if not merge:
        log.info(f"{len(corpus)} sentences of {split}, {dec.name} {dec.compute_type} on {info['device']}, "
                 f"beam {beam}, nbest {nbest}, shard {shard_id}/{num_shards}")
        sents, toks, secs = chunks.decode_chunks(dec, corpus, out_dir, chunk_size, num_shards, shard_id, max_tokens,
                                                 max_sentences, max_chunks, progress=progress)
        timings["decode_s"] = round(secs, 2)
        summary.update(decoded_sentences=sents, decoded_target_tokens=toks,
                       sentences_per_s=round(sents / secs, 1) if sents else None,
                       target_tokens_per_s=round(toks / secs, 1) if sents else None)
    missing, _ = chunks.missing_chunks(out_dir, corpus, chunk_size)
    if merge or (num_shards == 1 and not missing):
        t1 = time.perf_counter()
        rows = chunks.read_chunks(out_dir, corpus, chunk_size, num_shards)
        meta = {k: state[k] for k in ("split", "data", "teacher_source", "teacher", "backend", "compute_type",
                                      "beam", "nbest", "lenpen")}
        del dec  # frees the decoder (and its threads) before the scorers fork
        metrics = sorted({*select, "bleu"} - {"best"}) if corpus.has_refs else []
        scores = nbest_scores(rows, corpus, metrics, workers=threads or os.cpu_count() or 1)
        for sel in select:
            counts = output.merge(corpus, rows, out_dir, sel, max_len_ratio, max_repeats, keep_original,
                                  teacher.dict_dirs[0], meta, scores, headline_ratio)
            d = counts["dropped"]
            log.info(f"{sel}: {counts['distilled_kept']} of {counts['sentences']} hypotheses kept (dropped: "
                     f"{d['empty']} empty, {d['length_ratio']} length ratio, {d['headline_ratio']} headline ratio, "
                     f"{d['repeats']} repeats); "
                     f"{counts['pairs_written']} pairs -> {os.path.join(out_dir, sel, 'bin')}")
            summary[sel] = counts
        timings["merge_s"] = round(time.perf_counter() - t1, 2)
    elif num_shards > 1:
        log.info(f"shard {shard_id} done; {len(missing)} chunks of other shards left. When every shard is done "
                 f"(their chunks/ in {out_dir}), run this command with --merge instead of --shard-id")
    else:
        log.info(f"stopped after --max-chunks {max_chunks}; rerun to continue")
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    summary["timings"] = timings
    return summary
