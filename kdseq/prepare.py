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
import random
import shutil
import sys

from kdseq.data.corpus import corpus_files, read_parallel, write_lines
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, file_sha256, inside, real, staged_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def default_character_coverage(langs):
    """sentencepiece's advice: 0.9995 for languages with large character sets, 1.0 otherwise."""
    return 0.9995 if any(lang.split("-")[0].split("_")[0] in ("zh", "ja", "ko") for lang in langs) else 1.0


def _drop_empty(pairs, counts, split):
    kept = [row for row in pairs if all(row)]
    counts[f"{split}_dropped_empty"] = len(pairs) - len(kept)
    return kept


def _dedup(pairs):
    return list(dict.fromkeys(pairs))


def check_overlap(splits, drop, counts, extra=()):
    """Refuse (or with ``drop`` remove) held-out sources that also occur in train (and test ones in valid)."""
    train_src = {row[0] for row in splits["train"]}
    for held, against, against_set in (("valid", "train", train_src), ("test", "train", train_src),
                                       ("test", "valid", {row[0] for row in splits["valid"]}),
                                       *((x, "train", train_src) for x in extra)):
        shared = [row[0] for row in splits[held] if row[0] in against_set]
        if not shared:
            continue
        if not drop:
            raise KdseqError(
                f"{len(shared)} {held} source sentences also occur in {against} (first: {shared[0][:80]!r}): "
                f"scores on {held} would be inflated. Give disjoint splits, or pass --drop-overlap to remove "
                f"them from {against}")
        shared = set(shared)
        before = len(splits[against])
        splits[against] = [row for row in splits[against] if row[0] not in shared]
        counts[f"{against}_dropped_overlap_with_{held}"] = before - len(splits[against])


def train_sentencepiece(text_files, model_prefix, vocab_size, character_coverage):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=",".join(text_files), model_prefix=model_prefix, vocab_size=vocab_size,
        character_coverage=character_coverage, model_type="unigram", hard_vocab_limit=False,
        input_sentence_size=2_000_000, shuffle_input_sentence=True,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, num_threads=os.cpu_count() or 1, minloglevel=2,
    )


def describe_inputs(specs, src_lang, tgt_lang, spm_model=None, dictionary=None, teacher_lang=None):
    """{role: {path, bytes, sha256}} of every input file: what a finished output was made from."""
    out = {}
    for role, spec in specs.items():
        for path in corpus_files(spec, src_lang, tgt_lang, teacher_lang) if spec else []:
            if not os.path.isfile(path):
                raise KdseqError(f"--{role} {spec}: {path}: no such file")
            out[f"{role}:{os.path.basename(path)}"] = {"path": real(path), "bytes": os.path.getsize(path),
                                                       "sha256": file_sha256(path)}
    for role, path in (("spm-model", spm_model), ("dict", dictionary)):
        if path:
            if not os.path.isfile(path):
                raise KdseqError(f"--{role} {path}: no such file")
            out[role] = {"path": real(path), "bytes": os.path.getsize(path), "sha256": file_sha256(path)}
    return out


def _differences(old, new, flags=False):
    """What differs between two records of settings (``flags``: named as the command's flags) or inputs."""
    keys = sorted(set(old) | set(new))
    diffs = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        name = "--" + k.replace("_", "-") if flags else k
        if isinstance(a, dict) and isinstance(b, dict):
            diffs.append(f"{name} ({', '.join(x for x in sorted(set(a) | set(b)) if a.get(x) != b.get(x))} "
                         "changed)")
        else:
            diffs.append(f"{name}: was {a!r}, now {b!r}")
    return diffs


def random_split(pairs, valid_size, test_size, seed, counts):
    """Split valid and test off ``pairs`` at random, held-out sources unique and absent from train: pairs that
    share a source stay together (a corpus with repeated sentences never gets an overlapping split)."""
    by_src = {}
    for p in pairs:
        by_src.setdefault(p[0], []).append(p)
    sources = list(by_src)
    if len(sources) < valid_size + test_size + 1:
        raise KdseqError(f"--train: {len(sources)} distinct source sentences cannot give --valid-size {valid_size} "
                         f"and --test-size {test_size} and leave some for training")
    order = list(range(len(sources)))
    random.Random(seed).shuffle(order)
    held = sorted(order[: valid_size + test_size])
    random.Random(seed + 1).shuffle(held)
    valid_src = {sources[i] for i in held[:valid_size]}
    test_src = {sources[i] for i in held[valid_size:]}
    # one pair per held-out source (its first), in corpus order
    valid = [by_src[s][0] for s in sources if s in valid_src]
    test = [by_src[s][0] for s in sources if s in test_src]
    train = [p for p in pairs if p[0] not in valid_src and p[0] not in test_src]
    counts["heldout_dropped_repeated_source"] = sum(len(by_src[s]) - 1 for s in valid_src | test_src)
    return train, valid, test


def check_reuse(spm_model, dictionary):
    if dictionary and not spm_model:
        raise KdseqError("--dict needs --spm-model: a dictionary is only valid with the sentencepiece model whose "
                         "pieces it lists")
    if spm_model:
        import sentencepiece as spm

        try:
            spm.SentencePieceProcessor(model_file=spm_model)
        except Exception as e:  # sentencepiece raises OSError/RuntimeError for a file that is not a model
            raise KdseqError(f"--spm-model {spm_model}: not a sentencepiece model ({e})") from None
    if dictionary:
        from fairseq.data import Dictionary

        try:
            Dictionary.load(dictionary)
        except Exception as e:
            raise KdseqError(f"--dict {dictionary}: not a fairseq dictionary ({type(e).__name__}: {e})") from None


def prepare(train, valid, test, src_lang, tgt_lang, out_dir, vocab_size=8000, valid_size=1000, test_size=1000,
            drop_overlap=False, max_len=250, character_coverage=None, seed=1, workers=1, force=False,
            spm_model=None, dictionary=None, teacher_lang=None, extra_tests=(), spm_texts=(), truncate_source=None):
    """Run every stage; returns the counts written to prepare.json. See the module docstring for the layout.
    ``extra_tests``: more held-out test corpora, binarized as splits test1, test2, ... (fairseq's names).
    ``spm_texts``: plain-text files the sentencepiece model also learns from; the dictionary is then every piece of
    the model (not only those of this corpus), so other corpora of the same task binarize without <unk>.
    ``truncate_source``: keep the first N pieces of every source and teacher source (spm/ and bin/; raw/ keeps the
    whole text), counted as ``{split}_source_truncated``."""
    spm_texts = list(spm_texts or ())
    if spm_texts and spm_model:
        raise KdseqError("--spm-train-text trains a sentencepiece model: it cannot go with --spm-model (reused)")
    out_dir = os.path.abspath(out_dir)
    if src_lang == tgt_lang:
        raise KdseqError(f"--src-lang and --tgt-lang are both {src_lang!r}: they must differ")
    if teacher_lang == tgt_lang:
        raise KdseqError(f"--teacher-source-lang {teacher_lang} equals --tgt-lang: fairseq names files by language "
                         f"pair, so give the teacher's source another code (e.g. {tgt_lang}doc)")
    if (valid is None) != (test is None):
        raise KdseqError("give both --valid and --test, or neither (then they are split off --train at random)")
    for flag, v, lo in (("--vocab-size", vocab_size, 8), ("--valid-size", valid_size, 1),
                        ("--test-size", test_size, 1), ("--max-len", max_len, 1), ("--workers", workers, 1),
                        ("--truncate-source", 1 if truncate_source is None else truncate_source, 1)):
        if v < lo:
            raise KdseqError(f"{flag} {v}: must be at least {lo}")
    if character_coverage is not None and not 0.9 <= character_coverage <= 1.0:
        raise KdseqError(f"--character-coverage {character_coverage}: must lie in [0.9, 1.0]")
    extra_tests = list(extra_tests or ())
    if extra_tests and valid is None:
        raise KdseqError("--extra-test needs --valid and --test (held-out corpora given as files)")
    extra = [f"test{i + 1}" for i in range(len(extra_tests))]
    specs = {"train": train, "valid": valid, "test": test, **dict(zip(extra, extra_tests))}
    for role, spec in specs.items():
        for path in corpus_files(spec, src_lang, tgt_lang, teacher_lang) if spec else []:
            if inside(path, out_dir):
                raise KdseqError(f"--{role}: input {path} lies inside --out-dir {out_dir}: it could be overwritten; "
                                 "choose another --out-dir")
    for flag, path in (("--spm-model", spm_model), ("--dict", dictionary)):
        if path and inside(path, out_dir):
            raise KdseqError(f"{flag} {path} lies inside --out-dir {out_dir}: choose another --out-dir")
    check_output_dir(out_dir, "prepare.json")
    settings = {"src_lang": src_lang, "tgt_lang": tgt_lang, "vocab_size": None if spm_model else vocab_size,
                "valid_size": None if valid else valid_size, "test_size": None if valid else test_size,
                "drop_overlap": drop_overlap, "max_len": max_len, "character_coverage": character_coverage,
                "seed": seed, "teacher_source_lang": teacher_lang, **({"extra_tests": len(extra)} if extra else {}),
                **({"spm_train_texts": len(spm_texts)} if spm_texts else {}),
                **({"truncate_source": truncate_source} if truncate_source else {})}
    inputs = describe_inputs(specs, src_lang, tgt_lang, spm_model, dictionary, teacher_lang)
    for i, path in enumerate(spm_texts):
        if not os.path.isfile(path):
            raise KdseqError(f"--spm-train-text {path}: no such file")
        if inside(path, out_dir):
            raise KdseqError(f"--spm-train-text {path} lies inside --out-dir {out_dir}: choose another --out-dir")
        inputs[f"spm-train-text:{i}"] = {"path": real(path), "bytes": os.path.getsize(path),
                                         "sha256": file_sha256(path)}
    done = os.path.join(out_dir, "prepare.json")
    if os.path.exists(done) and not force:
        with open(done) as f:
            old = json.load(f)
        diffs = _differences(old.get("settings", {}), settings, flags=True) + \
            _differences(old.get("inputs", {}), inputs)
        if not diffs:
            log.info(f"{out_dir} is already prepared from these inputs and settings (prepare.json); --force "
                     "rebuilds it")
            return {k: v for k, v in old.items() if k not in ("settings", "inputs")}
        raise KdseqError(f"--out-dir {out_dir} was prepared from other inputs or settings ({'; '.join(diffs[:3])}"
                         f"{'; ...' if len(diffs) > 3 else ''}): pass --force to rebuild it, or choose another "
                         "--out-dir")
    check_reuse(spm_model, dictionary)

    counts = {}
    splits = {"train": read_parallel(train, src_lang, tgt_lang, teacher_lang)}
    counts["train_read"] = len(splits["train"])
    splits["train"] = _drop_empty(splits["train"], counts, "train")
    before = len(splits["train"])
    splits["train"] = _dedup(splits["train"])
    counts["train_dropped_duplicate"] = before - len(splits["train"])
    if valid is not None:
        for name, spec in (("valid", valid), ("test", test), *zip(extra, extra_tests)):
            splits[name] = read_parallel(spec, src_lang, tgt_lang, teacher_lang)
            counts[f"{name}_read"] = len(splits[name])
            splits[name] = _drop_empty(splits[name], counts, name)
            if not splits[name]:
                flag = "--extra-test" if name in extra else f"--{name}"
                raise KdseqError(f"{flag} {spec}: no pair with both sides non-empty")
    else:
        splits["train"], splits["valid"], splits["test"] = random_split(splits["train"], valid_size, test_size,
                                                                        seed, counts)
    check_overlap(splits, drop_overlap, counts, extra)
    if not splits["train"]:
        raise KdseqError(f"--train {train}: no training pair left (empty, duplicate or overlapping held-out data)")
    if character_coverage is None:
        character_coverage = default_character_coverage([src_lang, tgt_lang])

    columns = [src_lang, tgt_lang] + ([f"teacher.{teacher_lang}"] if teacher_lang else [])
    with staged_dir(out_dir) as tmp:  # out_dir is absent, empty or a kdseq-prepare output (checked above)
        os.makedirs(os.path.join(tmp, "raw"))
        os.makedirs(os.path.join(tmp, "spm"))
        for split in (*SPLITS, *extra):
            for c, name in enumerate(columns):
                write_lines(os.path.join(tmp, "raw", f"{split}.{name}"), [row[c] for row in splits[split]])
        if spm_model:
            shutil.copy(spm_model, os.path.join(tmp, "spm.model"))
            vocab = os.path.splitext(spm_model)[0] + ".vocab"
            if os.path.exists(vocab):
                shutil.copy(vocab, os.path.join(tmp, "spm.vocab"))
        else:
            train_sentencepiece([os.path.join(tmp, "raw", f"train.{name}") for name in columns] + spm_texts,
                                os.path.join(tmp, "spm"), vocab_size, character_coverage)
            if spm_texts:
                dictionary = os.path.join(tmp, "dict.txt")
                write_dictionary_from_vocab(os.path.join(tmp, "spm.vocab"), dictionary)
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "spm.model"))
        pieces = {}
        for split in (*SPLITS, *extra):
            rows = splits[split]
            encoded = [sp.encode([row[c] for row in rows], out_type=str) for c in range(len(columns))]
            if truncate_source:  # every column but the target (1) is a source: the student's, the teacher's
                cut = [i for i in range(len(rows))
                       if any(len(encoded[c][i]) > truncate_source for c in range(len(columns)) if c != 1)]
                counts[f"{split}_source_truncated"] = len(cut)
                encoded = [col if c == 1 else [x[:truncate_source] for x in col] for c, col in enumerate(encoded)]
            pieces[split] = [[" ".join(x) for x in col] for col in encoded]
        rows = splits["train"]
        lengths = [max(len(p[i].split()) for p in pieces["train"]) for i in range(len(rows))]
        keep = [i for i in range(len(rows)) if lengths[i] <= max_len]
        counts["train_dropped_too_long"] = len(rows) - len(keep)
        if truncate_source:  # two texts with the same lead are the same input: held-out leads stay out of train
            held = {src for split in ("valid", "test", *extra) for src in pieces[split][0]}
            same = [i for i in keep if pieces["train"][0][i] in held]
            if same and not drop_overlap:
                raise KdseqError(
                    f"{len(same)} training sources have the same first {truncate_source} pieces (--truncate-source) "
                    f"as a valid or test source (first: {rows[same[0]][0][:80]!r}): the model would read the same "
                    "text in training and test. Pass --drop-overlap to remove them from train")
            counts["train_dropped_same_lead_as_held_out"] = len(same)
            keep = [i for i in keep if pieces["train"][0][i] not in held]
        if len(keep) < len(rows):
            pieces["train"] = [[p[i] for i in keep] for p in pieces["train"]]
            for c, name in enumerate(columns):
                write_lines(os.path.join(tmp, "raw", f"train.{name}"), [rows[i][c] for i in keep])
        for split in (*SPLITS, *extra):
            if split != "train":
                counts[f"{split}_longer_than_max_len"] = sum(
                    1 for i in range(len(splits[split])) if max(len(p[i].split()) for p in pieces[split]) > max_len)
            counts[f"{split}_pairs"] = len(pieces[split][0])
            for c, name in enumerate(columns):
                write_lines(os.path.join(tmp, "spm", f"{split}.{name}"), pieces[split][c])
        binarize(os.path.join(tmp, "spm"), os.path.join(tmp, "bin"), src_lang, tgt_lang, workers, dictionary, extra)
        if teacher_lang:  # the teacher's source with the target, binarized with the same (joined) dictionary
            text = os.path.join(tmp, ".teacher-text")
            os.makedirs(text)
            for split in (*SPLITS, *extra):
                shutil.copy(os.path.join(tmp, "spm", f"{split}.teacher.{teacher_lang}"),
                            os.path.join(text, f"{split}.{teacher_lang}"))
                shutil.copy(os.path.join(tmp, "spm", f"{split}.{tgt_lang}"), os.path.join(text, f"{split}.{tgt_lang}"))
            binarize(text, os.path.join(tmp, "bin-teacher"), teacher_lang, tgt_lang, workers,
                     os.path.join(tmp, "bin", f"dict.{src_lang}.txt"), extra)
            shutil.rmtree(text)
        if spm_texts:
            os.remove(dictionary)  # bin/dict.*.txt are its copies
        counts.update(src_lang=src_lang, tgt_lang=tgt_lang, vocab_size=vocab_size if not spm_model else
                      len(sp), character_coverage=character_coverage)
        with open(os.path.join(tmp, "prepare.json"), "w") as f:
            json.dump({**counts, "settings": settings, "inputs": inputs}, f, indent=1, sort_keys=True)
    return counts


def write_dictionary_from_vocab(vocab_file, dict_file):
    """A fairseq dictionary holding every piece of a sentencepiece model (``<unk>`` and the control symbols are
    fairseq's own), in the model's order; counts are placeholders (fairseq reads but never uses them)."""
    with open(vocab_file, encoding="utf-8") as f:
        pieces = [line.split("\t")[0] for line in f if line.strip()]
    with open(dict_file, "w", encoding="utf-8") as f:
        for p in pieces:
            if p not in ("<unk>", "<s>", "</s>", "<pad>") and " " not in p:
                f.write(f"{p} 1\n")


def binarize(text_dir, dest_dir, src_lang, tgt_lang, workers, dictionary=None, extra=()):
    """fairseq-preprocess with a joined dictionary over text_dir/{train,valid,test}.{src,tgt} (``dictionary``:
    an existing one, reused as it is; ``extra``: more test splits test1, ... binarized under those names). Run
    in-process (a subprocess would import fairseq a second time)."""
    from fairseq import options
    from fairseq_cli import preprocess

    argv = ["--source-lang", src_lang, "--target-lang", tgt_lang, "--trainpref", os.path.join(text_dir, "train"),
            "--validpref", os.path.join(text_dir, "valid"),
            "--testpref", ",".join(os.path.join(text_dir, s) for s in ("test", *extra)),
            "--destdir", dest_dir, "--joined-dictionary", "--workers", str(workers)]
    if dictionary:
        argv += ["--srcdict", dictionary]
    args = options.get_preprocessing_parser().parse_args(argv)
    logger = logging.getLogger("fairseq_cli.preprocess")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.setLevel(logging.INFO)  # its own log file, <dest>/preprocess.log, keeps what it did
    logger.propagate = False
    try:
        preprocess.main(args)
    except Exception as e:  # fairseq raises plain exceptions (FileExistsError, AssertionError, ...)
        raise KdseqError(f"fairseq-preprocess failed on {text_dir}: {type(e).__name__}: {e}") from None
    finally:
        for h in logger.handlers[len(saved[0]):]:
            h.close()
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
