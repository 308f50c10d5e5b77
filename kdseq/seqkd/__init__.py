"""Sequence-level distillation (Kim & Rush 2016): the teacher regenerates the target side of a corpus.

``kdseq-regenerate`` (:func:`kdseq.seqkd.run.regenerate`) decodes the source side of a binarized split with the
teacher (beam search, n-best) and writes a distilled corpus, in exactly the source's order, binarized with the
teacher's dictionaries. With a teacher source (``--teacher-source``) the teacher reads a second binarized
source aligned line by line with the student's, and the distilled pairs are (student's source, teacher's
output): the seam for cross-lingual headline distillation.

The package, by stage:

    config.py    RegenerateConfig: inputs, the decoding Search, runtime, work (chunks, shards), outputs
    chunks.py    the chunk store (resume, shards), the settings file (created exclusively)
    scoring.py   sentence BLEU / chrF of every n-best hypothesis (seq-inter selection)
    filters.py   degenerate hypotheses: empty, length ratio, back-to-back repeats
    output.py    merging the chunks into <select>/{bin,text,raw} and regenerate.json
    run.py       the pipeline: regenerate(cfg) (kdseq/cli/regenerate.py builds cfg from flags)
    combine.py   kdseq-combine: several distilled corpora joined as one

The split, its decoding with either backend and the conversion to CTranslate2 are :mod:`kdseq.decoding`'s.

Layout of ``--out-dir OUT``::

    state.json                 the decoding settings every chunk was made with (and data fingerprints)
    chunks/<split>.NNNNNN.jsonl  one JSON line per sentence: {"id", "hyps": [[target ids]...], "scores"}
    <select>/bin/              the distilled split binarized with the teacher's dictionaries, the other splits
                               of the data folder copied: give it to fairseq-train as it is
    <select>/text/<split>.{src,tgt}  the same pairs as sentencepiece pieces; raw/: detokenized
    <select>/bin-teacher/      with --teacher-source: the teacher's source of each written pair and the same
                               target, aligned line by line with bin/ (word-level KD on the distilled corpus,
                               ``--task headline_kd --teacher-source-data``, reads it)
    <select>/regenerate.json   counts (kept, dropped by each filter), mean sentence BLEU against the references

``<select>`` is ``best`` (seq-KD: the teacher's top beam hypothesis), ``bleu`` or ``chrf`` (seq-inter: the
n-best hypothesis closest to the reference by smoothed sentence BLEU, or sentence chrF). One decode with
``--nbest K`` serves all of them.

Work is cut into chunks of ``chunk_size`` consecutive sentences. Each chunk is decoded (sorted by length
inside, put back in order by sentence id) and written atomically as one file; a killed run restarts from the
first chunk that has no file. Chunk ``c`` belongs to shard ``c % num_shards``, so N machines each take a shard
of one folder and a merge puts the chunks back together in corpus order. Changing the number of shards between
runs is safe; changing anything that changes the hypotheses (teacher, beam, n-best, backend, compute type,
data...) is refused.
"""
SELECTORS = ("best", "bleu", "chrf")
