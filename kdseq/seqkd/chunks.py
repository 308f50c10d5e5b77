"""The chunk store of a regeneration: settings file, length batches, decoding chunk by chunk, reading them back.

A chunk is ``chunk_size`` consecutive sentences, decoded and written atomically as one JSON-lines file; it is
the unit of resuming (a rerun decodes only chunks without a file) and of sharding (chunk ``c`` belongs to shard
``c % num_shards``)."""
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import fields

from tqdm import tqdm

from kdseq.decoding.backends import length_batches
from kdseq.decoding.search import RECORD_KEYS, Search
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write

log = logging.getLogger(__name__)

# what a resume or another shard must share with the folder's first run: the data, the teacher, the resolved decoder
# and every field of the decoding configuration
STATE_KEYS = ("split", "data_fingerprint", "teacher_source_fingerprint", "teacher_sha256", "backend",
              "compute_type", *RECORD_KEYS, "chunk_size")
SEARCH_DEFAULTS = {f.name: f.default for f in fields(Search)}


def chunk_path(out_dir, split, c):
    return os.path.join(out_dir, "chunks", f"{split}.{c:06d}.jsonl")


def missing_chunks(out_dir, corpus, chunk_size):
    """The chunks of ``corpus`` that have no file in ``out_dir`` yet, and how many chunks there are."""
    n_chunks = (len(corpus) + chunk_size - 1) // chunk_size
    return [c for c in range(n_chunks) if not os.path.exists(chunk_path(out_dir, corpus.split, c))], n_chunks


def read_state(out_dir):
    """The settings a regeneration folder was started with (state.json); a damaged file is named."""
    path = os.path.join(out_dir, "state.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise KdseqError(f"{path}: unreadable ({e}); this folder's chunks cannot be trusted: give another "
                         "--out-dir") from None


def check_state(out_dir, state, restart=False):
    """Create state.json on the first run, exclusively (of two runs started at once, one creates it and the
    other compares); later runs (resumes, other shards) must match it. ``restart``: a folder started with other
    settings is started over (its state.json and chunks/, which only kdseq-regenerate writes, moved aside then
    removed; of shards restarting at once, one does it and the others find its new state.json)."""
    path = os.path.join(out_dir, "state.json")
    tmp = f"{path}.tmp-{os.getpid()}"
    atomic_write(tmp, json.dumps(state, indent=1, sort_keys=True) + "\n")
    try:
        os.link(tmp, path)  # fails if state.json exists: never overwrites another run's settings
        return
    except FileExistsError:
        pass
    finally:
        os.remove(tmp)
    old = read_state(out_dir)

    def value(record, k):  # a decoding field a record leaves out is at its default
        return record.get(k, SEARCH_DEFAULTS.get(k))

    diff = [k for k in STATE_KEYS if value(old, k) != value(state, k)]
    if diff and restart:
        k = diff[0]
        log.info(f"{out_dir} was started with {k}={value(old, k)!r}, this run has {value(state, k)!r}: starting over")
        aside = f"{path}.old-{os.getpid()}"
        try:
            os.rename(path, aside)  # one restarting process wins; the others compare with its new state.json
        except FileNotFoundError:
            return check_state(out_dir, state, restart)
        chunks = os.path.join(out_dir, "chunks")
        if os.path.isdir(chunks):
            os.rename(chunks, f"{chunks}.old-{os.getpid()}")
        check_state(out_dir, state)
        shutil.rmtree(f"{chunks}.old-{os.getpid()}", ignore_errors=True)
        os.remove(aside)
        return
    if diff:
        k = diff[0]
        raise KdseqError(f"{path}: this folder was started with {k}={value(old, k)!r}, this run has "
                         f"{value(state, k)!r}: the chunks would mix hypotheses of different decodes. Resume "
                         "with the same settings, or give another --out-dir")


def decode_chunks(backend, corpus, out_dir, work, max_tokens, max_sentences):
    """Decode this shard's chunks that have no file yet (``work``: a :class:`kdseq.seqkd.config.Work`). Returns
    (sentences decoded, target tokens, seconds)."""
    n, chunk_size, num_shards, shard_id = len(corpus), work.chunk_size, work.num_shards, work.shard_id
    max_chunks, progress = work.max_chunks, work.progress
    missing, n_chunks = missing_chunks(out_dir, corpus, chunk_size)
    todo = [c for c in missing if c % num_shards == shard_id]
    mine = sum(1 for c in range(n_chunks) if c % num_shards == shard_id)
    if max_chunks is not None:
        todo = todo[:max_chunks]
    if mine > len(todo) and todo:
        log.info(f"resuming: {mine - len(todo)} of this shard's {mine} chunks are already done")
    os.makedirs(os.path.join(out_dir, "chunks"), exist_ok=True)
    total = sum(min(chunk_size, n - c * chunk_size) for c in todo)
    bar = None
    if progress and total:
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
