"""Offline teacher cache: the teacher's top-k tokens and log-probabilities for every target token of a split.

Built once by ``kdseq-cache-teacher``; ``--criterion word_kd --teacher-cache DIR`` then reads it instead of
running the teacher, for each subset under its own name (train, valid, any other --valid-subset). Layout of DIR
(memory-mapped numpy arrays, 6*k bytes per target token)::

    kdseq-cache.json       marks the folder as a teacher cache (format version)
    <split>/ids.npy        uint16 (total_tokens, k)   token ids, most probable first
    <split>/lp.npy         float32 (total_tokens, k)  log-probabilities (T = 1, renormalised over the k)
    <split>/offsets.npy    int64 (n + 1,)             rows of sentence i: offsets[i]:offsets[i+1]
    <split>/meta.json      k, counts, teacher, and a fingerprint of the data and dictionary it was built from

Each ``<split>/`` is built in a temporary folder and renamed into place (kdseq.fileio.staged_dir).
An ensemble's distribution is the average of its members' probabilities at T = 1 (what fairseq's ensemble
decoding uses); the student's temperature is applied to that average, online and from the cache alike.

The fingerprint (sha256 over the dictionary's symbols and every source and target token id) makes a cache
built from another dataset or dictionary fail loudly instead of training on misaligned targets.
"""
from kdseq.cache.reader import FORMAT_VERSION, MARKER, TeacherCache, check_unsharded, fingerprint  # noqa: F401
from kdseq.cache.build import CacheJob, CacheRequest, build, build_shard, merge_shards, run  # noqa: F401
