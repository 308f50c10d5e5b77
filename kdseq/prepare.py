"""Turn a parallel corpus into what fairseq trains on: clean text splits, a joint sentencepiece model
and a binarized directory with a joined dictionary (``kdseq-prepare``).

Layout of ``--out-dir`` (built in a temporary folder beside it and renamed into place at the end, so an
interrupted run leaves nothing half-written)::

    raw/{train,valid,test}.{src,tgt}   cleaned plain text, one sentence a line (references for evaluation);
                                       test1, test2, ... with --extra-test
    spm.model, spm.vocab               joint sentencepiece model trained on raw/train
    spm/{train,valid,test}.{src,tgt}   the same text as sentencepiece pieces (with --truncate-source N: every
                                       source cut to its first N pieces, the text's lead; raw/ keeps it whole)
    bin/                               fairseq-preprocess output (dict.{src,tgt}.txt identical: joined)
    bin-teacher/                       with --teacher-source-lang L: the source a teacher reads (L) and the
                                       target, binarized with the same dictionary, aligned line by line with
                                       bin/ (kdseq-regenerate --teacher-source reads it); raw/ and spm/ then
                                       hold {split}.teacher.L too
    bin-teacher2/, ...                 with --teacher-source-lang L1,L2: the second teacher's source (L2) the
                                       same way; it may be empty on a row (only EOS binarized): that teacher
                                       has nothing to read there
    prepare.json                       counts of what was kept and dropped, and why; the inputs (real path,
                                       size, sha256) and settings it was made from

A rerun with the same inputs and settings is a no-op; with other inputs or settings it is refused, naming what
differs (``--force`` rebuilds). An existing ``--out-dir`` that is not a kdseq-prepare output (no prepare.json) is
never deleted: it must be empty or absent. ``--spm-model`` and ``--dict`` reuse another preparation's
sentencepiece model and dictionary, so that a student and its teachers share vocabularies.
"""
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import numpy as np

from kdseq.data.corpus import corpus_files, iter_parallel, read_parallel, teacher_langs
from kdseq.data.splits import check_overlap, drop_empty, random_split, rows_at, scan_train
from kdseq.data.pieces import encode, filter_train, keep_lines
from kdseq.data.vocab import binarize, check_reuse, default_character_coverage, train_sentencepiece, \
    write_dictionary_from_vocab
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, inside, staged_dir
from kdseq.manifest import check_rerun, describe_file, read_record

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Corpora:
    """The input corpora (FILE.tsv or PREFIX each; see :func:`kdseq.data.corpus.corpus_files`)."""
    train: str
    valid: Optional[str] = None            # with test; without both, they are split off train at random
    test: Optional[str] = None
    extra_tests: Tuple[str, ...] = ()      # more held-out test sets: splits test1, test2, ...
    teacher_lang: Optional[str] = None     # a third side, the source a teacher reads; "L1,L2": one per teacher

    def specs(self):
        extra = {f"test{i + 1}": spec for i, spec in enumerate(self.extra_tests)}
        return {"train": self.train, "valid": self.valid, "test": self.test, **extra}


@dataclass(frozen=True)
class Vocabulary:
    size: int = 8000
    character_coverage: Optional[float] = None   # default: 0.9995 for zh/ja/ko, else 1.0
    spm_model: Optional[str] = None              # reuse another preparation's model ...
    dictionary: Optional[str] = None             # ... and dictionary
    spm_texts: Tuple[str, ...] = ()              # more text the model learns from (the dictionary: every piece)
    spm_sentences: int = 1_000_000               # the model learns from a random sample of this many lines


@dataclass(frozen=True)
class Filters:
    valid_size: Union[int, str] = "auto"   # a random split's held-out sizes (auto: data.splits.held_out_sizes)
    test_size: Union[int, str] = "auto"
    seed: int = 1
    drop_overlap: bool = False             # remove overlapping training rows instead of refusing
    max_len: int = 250                     # longest training pair, in pieces
    truncate_source: Optional[int] = None  # every source cut to its first N pieces (its lead)


@dataclass(frozen=True)
class PrepareConfig:
    corpora: Corpora
    src_lang: str
    tgt_lang: str
    out_dir: str
    vocab: Vocabulary = field(default_factory=Vocabulary)
    filters: Filters = field(default_factory=Filters)
    workers: int = 1
    force: bool = False

    @property
    def extra(self):
        return [f"test{i + 1}" for i in range(len(self.corpora.extra_tests))]

    @property
    def columns(self):
        """The text columns of a row: the source, the target and teacher.<lang> for each teacher source."""
        return [self.src_lang, self.tgt_lang] + [f"teacher.{t}" for t in teacher_langs(self.corpora.teacher_lang)]

    def settings(self):
        """What prepare.json records of the flags (a rerun with others is refused)."""
        c, v, f = self.corpora, self.vocab, self.filters
        given = c.valid is not None
        return {"src_lang": self.src_lang, "tgt_lang": self.tgt_lang, "vocab_size": None if v.spm_model else v.size,
                "valid_size": None if given else f.valid_size, "test_size": None if given else f.test_size,
                "drop_overlap": f.drop_overlap, "max_len": f.max_len, "character_coverage": v.character_coverage,
                "seed": f.seed, "teacher_source_lang": c.teacher_lang,
                **({"extra_tests": len(self.extra)} if self.extra else {}),
                **({"spm_train_texts": len(v.spm_texts)} if v.spm_texts else {}),
                **({} if v.spm_model else {"spm_sentences": v.spm_sentences}),
                **({"truncate_source": f.truncate_source} if f.truncate_source else {})}


def check_config(cfg):
    """Flags that cannot work together, or values out of range."""
    c, v, f = cfg.corpora, cfg.vocab, cfg.filters
    if v.spm_texts and v.spm_model:
        raise KdseqError("--spm-train-text trains a sentencepiece model: it cannot go with --spm-model (reused)")
    if cfg.src_lang == cfg.tgt_lang:
        raise KdseqError(f"--src-lang and --tgt-lang are both {cfg.src_lang!r}: they must differ")
    langs = teacher_langs(c.teacher_lang)
    if cfg.tgt_lang in langs:
        raise KdseqError(f"--teacher-source-lang {c.teacher_lang}: {cfg.tgt_lang} is --tgt-lang: fairseq names files "
                         f"by language pair, so give the teacher's source another code (e.g. {cfg.tgt_lang}doc)")
    if len(set(langs)) != len(langs) or not all(t.isalnum() for t in langs):
        raise KdseqError(f"--teacher-source-lang {c.teacher_lang}: give one code per teacher source, letters and "
                         "digits, distinct, joined by ',' (e.g. eh or eh,zt)")
    if (c.valid is None) != (c.test is None):
        raise KdseqError("give both --valid and --test, or neither (then they are split off --train at random)")
    sizes = (("--valid-size", f.valid_size, 1), ("--test-size", f.test_size, 1))
    for flag, val, lo in (("--vocab-size", v.size, 8), *(s for s in sizes if s[1] != "auto"), ("--spm-sentences", v.spm_sentences, 1000), ("--max-len", f.max_len, 1), ("--workers", cfg.workers, 1),
                          ("--truncate-source", 1 if f.truncate_source is None else f.truncate_source, 1)):
        if val < lo:
            raise KdseqError(f"{flag} {val}: must be at least {lo}")
    if v.character_coverage is not None and not 0.9 <= v.character_coverage <= 1.0:
        raise KdseqError(f"--character-coverage {v.character_coverage}: must lie in [0.9, 1.0]")
    if c.extra_tests and c.valid is None:
        raise KdseqError("--extra-test needs --valid and --test (held-out corpora given as files)")


def input_files(cfg):
    """(how an error names it, its role in prepare.json, path) of every input file."""
    c, v = cfg.corpora, cfg.vocab
    for role, spec in c.specs().items():
        for path in corpus_files(spec, cfg.src_lang, cfg.tgt_lang, c.teacher_lang) if spec else ():
            yield f"--{role} {spec}: {path}", f"{role}:{os.path.basename(path)}", path
    for role, path in (("spm-model", v.spm_model), ("dict", v.dictionary)):
        if path:
            yield f"--{role} {path}", role, path
    for i, path in enumerate(v.spm_texts):
        yield f"--spm-train-text {path}", f"spm-train-text:{i}", path


def describe_inputs(cfg):
    """{role: {path, bytes, sha256}} of every input file (each must exist): what prepare.json records."""
    return {role: describe_file(path, named) for named, role, path in input_files(cfg)}


LEGACY_SPM_SENTENCES = 2_000_000  # the sample of a prepare.json that does not record spm_sentences


def settings_to_compare(cfg, done):
    """cfg.settings(), less spm_sentences where an earlier output that does not record it (sampled 2M lines) read
    fewer lines than either sample: sentencepiece then learnt from all of them, as it would now."""
    settings = cfg.settings()
    old = read_record(done)
    if old is None or "spm_sentences" in old.get("settings", {}) or "spm_sentences" not in settings \
            or cfg.vocab.spm_texts:
        return settings
    rows = sum(old.get(k, 0) for k in ("train_pairs", "train_dropped_too_long", "train_dropped_same_lead_as_held_out"))
    if rows * len(cfg.columns) <= min(LEGACY_SPM_SENTENCES, cfg.vocab.spm_sentences):
        del settings["spm_sentences"]
    return settings


def read_splits(cfg, counts):
    """Stage 1, read and clean: train as a :class:`TrainRows` (streamed: empty pairs and repeats dropped), the
    held-out splits as rows, split off train at random when not given."""
    c, f = cfg.corpora, cfg.filters
    train = scan_train(lambda: iter_parallel(c.train, cfg.src_lang, cfg.tgt_lang, c.teacher_lang), counts)
    splits = {"train": train}
    if c.valid is None:
        valid, test = random_split(train, (f.valid_size, f.test_size), f.seed, counts)
        held = rows_at(train.read, np.concatenate([valid, test]))  # one more pass collects them
        splits["valid"], splits["test"] = [held[n] for n in valid.tolist()], [held[n] for n in test.tolist()]
        return splits
    for name, spec in list(cfg.corpora.specs().items())[1:]:
        rows = read_parallel(spec, cfg.src_lang, cfg.tgt_lang, c.teacher_lang)
        counts[f"{name}_read"] = len(rows)
        splits[name] = drop_empty(rows, counts, name)
        if not splits[name]:
            flag = "--extra-test" if name in cfg.extra else f"--{name}"
            raise KdseqError(f"{flag} {spec}: no pair with both sides non-empty")
    return splits


def build_vocabulary(cfg, tmp):
    """Stage 2: the sentencepiece model (trained on raw/train, or reused) and the dictionary to binarize with
    (None: fairseq-preprocess builds it from train). Returns (processor, dictionary file)."""
    import sentencepiece as spm

    v = cfg.vocab
    dictionary = v.dictionary
    if v.spm_model:
        shutil.copy(v.spm_model, os.path.join(tmp, "spm.model"))
        vocab = os.path.splitext(v.spm_model)[0] + ".vocab"
        if os.path.exists(vocab):
            shutil.copy(vocab, os.path.join(tmp, "spm.vocab"))
    else:
        coverage = v.character_coverage or default_character_coverage([cfg.src_lang, cfg.tgt_lang])
        train_sentencepiece([os.path.join(tmp, "raw", f"train.{name}") for name in cfg.columns] + list(v.spm_texts),
                            os.path.join(tmp, "spm"), v.size, coverage, v.spm_sentences)
        if v.spm_texts:
            dictionary = os.path.join(tmp, "dict.txt")
            write_dictionary_from_vocab(os.path.join(tmp, "spm.vocab"), dictionary)
    return spm.SentencePieceProcessor(model_file=os.path.join(tmp, "spm.model")), dictionary


def write_raw(tmp, split, columns, rows):
    """raw/<split>.<column> from ``rows`` (any iterable: train's is streamed from its corpus)."""
    files = [open(os.path.join(tmp, "raw", f"{split}.{name}"), "w", encoding="utf-8") for name in columns]
    try:
        for row in rows:
            for f, text in zip(files, row):
                f.write(text + "\n")
    finally:
        for f in files:
            f.close()


def teacher_folder(i):
    """The binarized folder of the i-th teacher source (0-based): bin-teacher, bin-teacher2, ..."""
    return "bin-teacher" if i == 0 else f"bin-teacher{i + 1}"


def binarize_all(cfg, tmp, dictionary):
    """Stage 5: bin/ (and bin-teacher/, bin-teacher2/...: each teacher's source with the target, with the same
    joined dictionary)."""
    binarize(os.path.join(tmp, "spm"), os.path.join(tmp, "bin"), (cfg.src_lang, cfg.tgt_lang), cfg.workers,
             dictionary, cfg.extra)
    for i, t in enumerate(teacher_langs(cfg.corpora.teacher_lang)):
        text = os.path.join(tmp, ".teacher-text")
        os.makedirs(text)
        for split in (*SPLITS, *cfg.extra):
            shutil.copy(os.path.join(tmp, "spm", f"{split}.teacher.{t}"), os.path.join(text, f"{split}.{t}"))
            shutil.copy(os.path.join(tmp, "spm", f"{split}.{cfg.tgt_lang}"),
                        os.path.join(text, f"{split}.{cfg.tgt_lang}"))
        binarize(text, os.path.join(tmp, teacher_folder(i)), (t, cfg.tgt_lang), cfg.workers,
                 os.path.join(tmp, "bin", f"dict.{cfg.src_lang}.txt"), cfg.extra)
        shutil.rmtree(text)


def prepare(cfg):
    """Run every stage (read and clean, overlap, sentencepiece, leads, length filter, binarize) for a
    :class:`PrepareConfig`; returns the counts written to prepare.json. The layout: the module docstring."""
    cfg = PrepareConfig(**{**cfg.__dict__, "out_dir": os.path.abspath(cfg.out_dir)})
    check_config(cfg)
    for named, _, path in input_files(cfg):
        if inside(path, cfg.out_dir):
            raise KdseqError(f"{named} lies inside --out-dir {cfg.out_dir}: it could be overwritten; choose "
                             "another --out-dir")
    check_output_dir(cfg.out_dir, "prepare.json")
    done = os.path.join(cfg.out_dir, "prepare.json")
    settings, inputs = settings_to_compare(cfg, done), describe_inputs(cfg)
    if check_rerun(done, settings, inputs, cfg.force):
        log.info(f"{cfg.out_dir} is already prepared from these inputs and settings (prepare.json); --force "
                 "rebuilds it")
        with open(done) as f:
            return {k: v for k, v in json.load(f).items() if k not in ("settings", "inputs")}
    check_reuse(cfg.vocab.spm_model, cfg.vocab.dictionary)

    counts = {}
    splits = read_splits(cfg, counts)
    check_overlap(splits, cfg.filters.drop_overlap, counts, cfg.extra)
    if not splits["train"]:
        raise KdseqError(f"--train {cfg.corpora.train}: no training pair left (empty, duplicate or overlapping "
                         "held-out data)")
    with staged_dir(cfg.out_dir) as tmp:  # out_dir is absent, empty or a kdseq-prepare output (checked above)
        os.makedirs(os.path.join(tmp, "raw"))
        os.makedirs(os.path.join(tmp, "spm"))
        for split, rows in splits.items():
            write_raw(tmp, split, cfg.columns, rows.rows() if split == "train" else rows)
        sp, dictionary = build_vocabulary(cfg, tmp)
        encoded = {split: encode(cfg, sp, split, tmp, counts) for split in splits}
        keep = filter_train(cfg, tmp, encoded, counts)
        if not keep:
            raise KdseqError(f"--train {cfg.corpora.train}: every training pair is longer than --max-len "
                             f"{cfg.filters.max_len} pieces: raise --max-len, or cut sources with --truncate-source")
        if len(keep) < len(splits["train"]):
            for folder in ("raw", "spm"):
                for name in cfg.columns:
                    keep_lines(os.path.join(tmp, folder, f"train.{name}"), keep)
        for split, (lengths, _) in encoded.items():
            if split != "train":
                counts[f"{split}_longer_than_max_len"] = sum(1 for n in lengths if n > cfg.filters.max_len)
        counts["train_pairs"] = len(keep)
        counts.update({f"{split}_pairs": len(rows) for split, rows in splits.items() if split != "train"})
        binarize_all(cfg, tmp, dictionary)
        if cfg.vocab.spm_texts:
            os.remove(dictionary)  # bin/dict.*.txt are its copies
        counts.update(src_lang=cfg.src_lang, tgt_lang=cfg.tgt_lang,
                      vocab_size=cfg.vocab.size if not cfg.vocab.spm_model else len(sp),
                      character_coverage=cfg.vocab.character_coverage or default_character_coverage(
                          [cfg.src_lang, cfg.tgt_lang]))
        with open(os.path.join(tmp, "prepare.json"), "w") as f:
            json.dump({**counts, "settings": settings, "inputs": inputs}, f, indent=1, sort_keys=True)
    return counts
