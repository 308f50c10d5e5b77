"""The regeneration pipeline: check, decode this shard's missing chunks, and (when every chunk is there) merge.
``kdseq-regenerate`` parses flags and calls :func:`regenerate`; scripts and tests may call it directly."""
import logging
import os
import time

from kdseq.checkpoints import split_paths
from kdseq.data.binarized import symbols_sha256
from kdseq.decoding.backends import ct2_device, make_backend, open_ctranslate2
from kdseq.decoding.corpus import Corpus
from kdseq.decoding.ct2 import read_teacher_meta, teacher_dict_shas, write_teacher_meta
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, file_sha256, inside
from kdseq.seqkd import chunks, output
from kdseq.seqkd.scoring import nbest_scores
from kdseq.teacher import Teacher

log = logging.getLogger(__name__)


def check_folders(data, out_dir, teacher_source=None, other_sources=()):
    for name, folder in (("the data", data), *(("--teacher-source", f) for f in (teacher_source, *other_sources))):
        if folder and (inside(out_dir, folder) or inside(folder, out_dir)):
            raise KdseqError(f"--out-dir {out_dir} and {name} {folder} overlap: choose an --out-dir outside the "
                             "data folder (the input is never written to)")
    check_output_dir(out_dir, "state.json")


class ConvertedTeacher:
    """A teacher known from its CTranslate2 conversion's metadata (:func:`kdseq.decoding.ct2.write_teacher_meta`):
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


def regenerate(cfg):
    """Regenerate the split of ``cfg.inputs.data`` with the teacher into ``cfg.inputs.out_dir`` (layout in
    kdseq/seqkd/__init__.py); ``cfg``: a :class:`kdseq.seqkd.config.RegenerateConfig`. With ``cfg.work.merge`` only
    the chunks are joined: no teacher is loaded and no decode setting is read (they come from state.json).
    Returns a summary dict (counts, speed, timings)."""
    t0 = time.perf_counter()
    inp = cfg.inputs
    data, out_dir = os.path.abspath(inp.data), os.path.abspath(inp.out_dir)
    teacher_source = os.path.abspath(inp.teacher_source) if inp.teacher_source else None
    others = tuple(os.path.abspath(f) for f in inp.other_sources)
    check_folders(data, out_dir, teacher_source, others)
    corpus = Corpus(data, inp.split, teacher_source, others)
    check_references(cfg.outputs, corpus)
    if cfg.work.merge:
        state = merge_state(out_dir, corpus, inp.teacher_path)
        corpus.set_max_source(state["max_positions"][0])  # the sources as the teacher read them
        summary = {k: state[k] for k in ("backend", "compute_type")}
        summary.update(sentences=len(corpus), timings={})
        merge_outputs(cfg, corpus, state, out_dir, summary)
        summary["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
        return summary
    return decode_and_merge(cfg, corpus, data, out_dir, t0)


def check_references(outputs, corpus):
    """Refuse, before any decoding, what needs a reference on a source-only split (e.g. monolingual text made
    with kdseq-prepare-mono): seq-inter selection and --keep-original."""
    if corpus.has_refs:
        return
    where = f"{corpus.data_dir} has no {corpus.tgt_lang} side for {corpus.split} (source-only text)"
    needs = [s for s in outputs.select if s != "best"]
    if needs:
        raise KdseqError(f"--select {','.join(outputs.select)}: {needs[0]} picks the hypothesis closest to the "
                         f"reference, and {where}: select best")
    if outputs.keep_original:
        raise KdseqError(f"--keep-original: {where}: there are no original pairs to keep")


STATE_RECORD = ("split", "data", "teacher_source", "teacher", "backend", "compute_type", "beam", "nbest", "lenpen")


def merge_state(out_dir, corpus, teacher_path):
    """state.json of a folder to merge, checked against this run's data (and teacher, if given)."""
    path = os.path.join(out_dir, "state.json")
    if not os.path.exists(path):
        raise KdseqError(f"--merge: {out_dir} has no state.json: nothing was decoded there yet; run the shards "
                         "first (--shard-id)")
    state = chunks.read_state(out_dir)
    checks = {"split": corpus.split, "data_fingerprint": corpus.fingerprint(),
              "teacher_source_fingerprint": corpus.teacher_fingerprint()}
    if teacher_path:
        checks["teacher_sha256"] = [file_sha256(p) for p in split_paths(teacher_path, "--teacher-path")]
    for k, v in checks.items():
        if state.get(k) != v:
            what = {"split": "--split", "teacher_sha256": "--teacher-path"}.get(k, "the data")
            raise KdseqError(f"--merge: {path} was decoded from another {k.replace('_', ' ')} than this run's "
                             f"{what}: merge with the data (and teacher) the shards decoded")
    if not os.path.exists(output.teacher_dict_file(out_dir, corpus.tgt_lang)) or "max_positions" not in state:
        raise KdseqError(f"--merge: {out_dir} lacks the teacher's dictionary (a folder decoded by an older "
                         "kdseq-regenerate): rerun any one shard's command (it decodes nothing new and records "
                         "it), then --merge")
    return state


def load_teacher(cfg, corpus, paths, shas):
    """The teacher (checkpoints ``paths``, their sha256 ``shas``), as its CTranslate2 conversion recorded it where
    that suffices, else loaded: (teacher, (max source, max target positions))."""
    inp, rt = cfg.inputs, cfg.runtime
    teacher = converted_teacher(paths, shas, corpus, inp.teacher_data, rt.backend, rt.device, rt.ct2_cache)
    if teacher:  # decoded by CTranslate2 as converted before: the checkpoint is not loaded
        return teacher, teacher.max_positions
    from kdseq.decoding.generator import max_positions  # imports torch and fairseq: loading a checkpoint does

    teacher = Teacher(inp.teacher_path, corpus.teacher_task, inp.teacher_data, check_source=True)
    return teacher, max_positions(teacher.models)


def build_decoder(cfg, corpus, teacher, shas, max_target):
    """(decoder, info with convert_s and device) for a loaded or a converted teacher."""
    if isinstance(teacher, ConvertedTeacher):
        info = {"convert_s": 0.0, "device": teacher.device, "model_dir": teacher.model_dir}
        return open_ctranslate2(teacher.model_dir, teacher.device, corpus, cfg.search, cfg.runtime, max_target), info
    dec, info = make_backend(corpus, teacher, shas, cfg.search, cfg.runtime, max_target)
    if dec.name == "ctranslate2":  # recorded, so that the next run need not load the checkpoint
        write_teacher_meta(info["model_dir"], shas[0], teacher.dict_dirs[0], teacher.langs[0],
                           (corpus.max_source, max_target))
    return dec, info


def decode_and_merge(cfg, corpus, data, out_dir, t0):
    inp, work = cfg.inputs, cfg.work  # a RegenerateConfig that decodes has a teacher (it checks itself)
    paths = split_paths(inp.teacher_path, "--teacher-path")
    shas = [file_sha256(p) for p in paths]
    teacher, (max_source, max_target) = load_teacher(cfg, corpus, paths, shas)
    corpus.set_max_source(max_source)
    os.makedirs(out_dir, exist_ok=True)
    dec, info = build_decoder(cfg, corpus, teacher, shas, max_target)
    timings = {"load_s": round(time.perf_counter() - t0 - info["convert_s"], 2),
               "convert_s": round(info["convert_s"], 2)}
    state = {"split": inp.split, "data": data, "data_fingerprint": corpus.fingerprint(),
             "teacher_source": corpus.teacher_source, "teacher_source_fingerprint": corpus.teacher_fingerprint(),
             "teacher": teacher.paths, "teacher_sha256": shas, "backend": dec.name, "compute_type": dec.compute_type,
             **cfg.search.record(), "chunk_size": work.chunk_size, "sentences": len(corpus),
             "max_positions": [max_source, max_target]}
    chunks.check_state(out_dir, state, cfg.work.restart)
    output.keep_teacher_dict(out_dir, teacher.dict_dirs[0], corpus.tgt_lang)
    max_tokens, max_sentences = cfg.runtime.batch_limits(info["device"].startswith("cuda"), dec.name)
    summary = {"backend": dec.name, "compute_type": dec.compute_type, "device": info["device"],
               "sentences": len(corpus), "truncated_sources": corpus.truncated, "timings": timings}
    log.info(f"{len(corpus)} sentences of {inp.split}, {dec.name} {dec.compute_type} on {info['device']}, "
             f"beam {cfg.search.beam}, nbest {cfg.search.nbest}, shard {work.shard_id}/{work.num_shards}")
    sents, toks, secs = chunks.decode_chunks(dec, corpus, out_dir, work, max_tokens, max_sentences)
    del dec  # frees the decoder (and its threads) before a merge's scorers fork
    timings["decode_s"] = round(secs, 2)
    summary.update(decoded_sentences=sents, decoded_target_tokens=toks,
                   sentences_per_s=round(sents / secs, 1) if sents else None,
                   target_tokens_per_s=round(toks / secs, 1) if sents else None)
    missing, _ = chunks.missing_chunks(out_dir, corpus, work.chunk_size)
    if work.num_shards == 1 and not missing:
        merge_outputs(cfg, corpus, state, out_dir, summary)
    elif work.num_shards > 1:
        log.info(f"shard {work.shard_id} done; {len(missing)} chunks of other shards left. When every shard is "
                 f"done (their chunks/ in {out_dir}), run kdseq-regenerate DATA --out-dir {out_dir} --merge (with "
                 "the same --select and filters; no teacher or decode settings needed)")
    else:
        log.info(f"stopped after --max-chunks {work.max_chunks}; rerun to continue")
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    return summary


def merge_outputs(cfg, corpus, state, out_dir, summary):
    """Join the chunks (decoded as ``state`` records) and write one output folder per selector."""
    t1 = time.perf_counter()
    rows = chunks.read_chunks(out_dir, corpus, state["chunk_size"], cfg.work.num_shards)
    meta = {k: state[k] for k in STATE_RECORD}
    if corpus.other_sides:  # written along, not decoded from: recorded here, not in state.json
        meta["other_teacher_sources"] = [side.data_dir for side in corpus.other_sides]
    select = cfg.outputs.select
    if any(s != "best" for s in select) and state["nbest"] == 1:
        raise KdseqError(f"--select {','.join(select)}: seq-inter picks among n-best hypotheses, and {out_dir} was "
                         "decoded with --nbest 1: select best, or decode again with --nbest > 1 in another --out-dir")
    metrics = sorted({*select, "bleu"} - {"best"}) if corpus.has_refs else []
    scores = nbest_scores(rows, corpus, metrics, workers=cfg.runtime.workers())
    for sel in select:
        counts = output.merge(corpus, rows, out_dir, sel, cfg.outputs, meta, scores)
        d = counts["dropped"]
        log.info(f"{sel}: {counts['distilled_kept']} of {counts['sentences']} hypotheses kept (dropped: "
                 f"{d['empty']} empty, {d['length_ratio']} length ratio, {d['headline_ratio']} headline ratio, "
                 f"{d['repeats']} repeats); "
                 f"{counts['pairs_written']} pairs -> {os.path.join(out_dir, sel, 'bin')}")
        summary[sel] = counts
    summary["timings"]["merge_s"] = round(time.perf_counter() - t1, 2)
