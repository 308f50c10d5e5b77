"""Turn a parallel corpus into what fairseq trains on: clean text splits, a joint sentencepiece model
and a binarized directory with a joined dictionary (``kdseq-prepare``).

Layout of ``--out-dir`` (built in a temporary folder beside it and renamed into place at the end, so an
interrupted run leaves nothing half-written)::

    raw/{train,valid,test}.{src,tgt}   cleaned plain text, one sentence a line (references for evaluation)
    spm.model, spm.vocab               joint sentencepiece model trained on raw/train
    spm/{train,valid,test}.{src,tgt}   the same text as sentencepiece pieces
    bin/                               fairseq-preprocess output (dict.{src,tgt}.txt identical: joined)
    prepare.json                       counts of what was kept and dropped, and why
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from kdseq.data.corpus import corpus_files, read_parallel, write_lines
from kdseq.errors import KdseqError

SPLITS = ("train", "valid", "test")


def default_character_coverage(langs):
    """sentencepiece's advice: 0.9995 for languages with large character sets, 1.0 otherwise."""
    return 0.9995 if any(lang.split("-")[0].split("_")[0] in ("zh", "ja", "ko") for lang in langs) else 1.0


def _drop_empty(pairs, counts, split):
    kept = [(s, t) for s, t in pairs if s and t]
    counts[f"{split}_dropped_empty"] = len(pairs) - len(kept)
    return kept


def _dedup(pairs):
    return list(dict.fromkeys(pairs))


def check_overlap(splits, drop, counts):
    """Refuse (or with ``drop`` remove) held-out sources that also occur in train (and test ones in valid)."""
    train_src = {s for s, _ in splits["train"]}
    for held, against, against_set in (("valid", "train", train_src), ("test", "train", train_src),
                                       ("test", "valid", {s for s, _ in splits["valid"]})):
        shared = [s for s, _ in splits[held] if s in against_set]
        if not shared:
            continue
        if not drop:
            raise KdseqError(
                f"{len(shared)} {held} source sentences also occur in {against} (first: {shared[0][:80]!r}): "
                f"scores on {held} would be inflated. Give disjoint splits, or pass --drop-overlap to remove "
                f"them from {against}")
        shared = set(shared)
        before = len(splits[against])
        splits[against] = [(s, t) for s, t in splits[against] if s not in shared]
        counts[f"{against}_dropped_overlap_with_{held}"] = before - len(splits[against])


def train_sentencepiece(text_files, model_prefix, vocab_size, character_coverage, seed):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=",".join(text_files), model_prefix=model_prefix, vocab_size=vocab_size,
        character_coverage=character_coverage, model_type="unigram", hard_vocab_limit=False,
        input_sentence_size=2_000_000, shuffle_input_sentence=True,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, num_threads=os.cpu_count() or 1, minloglevel=2,
    )


def prepare(train, valid, test, src_lang, tgt_lang, out_dir, vocab_size=8000, valid_size=1000, test_size=1000,
            drop_overlap=False, max_len=250, character_coverage=None, seed=1, workers=1, force=False):
    """Run every stage; returns the counts written to prepare.json. See the module docstring for the layout."""
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(os.path.join(out_dir, "prepare.json")) and not force:
        print(f"kdseq-prepare: {out_dir} is already prepared (prepare.json exists); --force rebuilds it",
              file=sys.stderr)
        with open(os.path.join(out_dir, "prepare.json")) as f:
            return json.load(f)
    if src_lang == tgt_lang:
        raise KdseqError(f"--src-lang and --tgt-lang are both {src_lang!r}: they must differ")
    for spec in (train, valid, test):
        for path in corpus_files(spec, src_lang, tgt_lang) if spec else []:
            if os.path.abspath(path).startswith(out_dir + os.sep):
                raise KdseqError(f"input {path} lies inside --out-dir {out_dir}: it could be overwritten; "
                                 "choose another --out-dir")
    if (valid is None) != (test is None):
        raise KdseqError("give both --valid and --test, or neither (then they are split off --train at random)")

    counts = {}
    splits = {"train": read_parallel(train, src_lang, tgt_lang)}
    counts["train_read"] = len(splits["train"])
    splits["train"] = _drop_empty(splits["train"], counts, "train")
    before = len(splits["train"])
    splits["train"] = _dedup(splits["train"])
    counts["train_dropped_duplicate"] = before - len(splits["train"])
    if valid is not None:
        for name, spec in (("valid", valid), ("test", test)):
            splits[name] = read_parallel(spec, src_lang, tgt_lang)
            counts[f"{name}_read"] = len(splits[name])
            splits[name] = _drop_empty(splits[name], counts, name)
    else:
        pairs = splits["train"]
        if len(pairs) < valid_size + test_size + 1:
            raise KdseqError(f"{train}: {len(pairs)} pairs cannot give --valid-size {valid_size} and "
                             f"--test-size {test_size} and leave some for training")
        order = list(range(len(pairs)))
        random.Random(seed).shuffle(order)
        held = sorted(order[: valid_size + test_size])
        random.Random(seed + 1).shuffle(held)
        splits["valid"] = [pairs[i] for i in sorted(held[:valid_size])]
        splits["test"] = [pairs[i] for i in sorted(held[valid_size:])]
        held_set = set(held)
        splits["train"] = [p for i, p in enumerate(pairs) if i not in held_set]
    check_overlap(splits, drop_overlap, counts)
    if character_coverage is None:
        character_coverage = default_character_coverage([src_lang, tgt_lang])

    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "raw"))
        os.makedirs(os.path.join(tmp, "spm"))
        for split in SPLITS:
            write_lines(os.path.join(tmp, "raw", f"{split}.{src_lang}"), [s for s, _ in splits[split]])
            write_lines(os.path.join(tmp, "raw", f"{split}.{tgt_lang}"), [t for _, t in splits[split]])
        train_sentencepiece([os.path.join(tmp, "raw", f"train.{lang}") for lang in (src_lang, tgt_lang)],
                            os.path.join(tmp, "spm"), vocab_size, character_coverage, seed)
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "spm.model"))
        for split in SPLITS:
            src_p = [" ".join(x) for x in sp.encode([s for s, _ in splits[split]], out_type=str)]
            tgt_p = [" ".join(x) for x in sp.encode([t for _, t in splits[split]], out_type=str)]
            if split == "train":
                keep = [i for i in range(len(src_p))
                        if len(src_p[i].split()) <= max_len and len(tgt_p[i].split()) <= max_len]
                counts["train_dropped_too_long"] = len(src_p) - len(keep)
                if len(keep) < len(src_p):
                    src_p, tgt_p = [src_p[i] for i in keep], [tgt_p[i] for i in keep]
                    kept = [splits[split][i] for i in keep]
                    write_lines(os.path.join(tmp, "raw", f"train.{src_lang}"), [s for s, _ in kept])
                    write_lines(os.path.join(tmp, "raw", f"train.{tgt_lang}"), [t for _, t in kept])
            counts[f"{split}_pairs"] = len(src_p)
            write_lines(os.path.join(tmp, "spm", f"{split}.{src_lang}"), src_p)
            write_lines(os.path.join(tmp, "spm", f"{split}.{tgt_lang}"), tgt_p)
        binarize(os.path.join(tmp, "spm"), os.path.join(tmp, "bin"), src_lang, tgt_lang, workers)
        counts.update(src_lang=src_lang, tgt_lang=tgt_lang, vocab_size=vocab_size,
                      character_coverage=character_coverage)
        with open(os.path.join(tmp, "prepare.json"), "w") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def binarize(text_dir, dest_dir, src_lang, tgt_lang, workers):
    """fairseq-preprocess with a joined dictionary over text_dir/{train,valid,test}.{src,tgt}."""
    cmd = [sys.executable, "-m", "fairseq_cli.preprocess", "--source-lang", src_lang, "--target-lang", tgt_lang,
           "--trainpref", os.path.join(text_dir, "train"), "--validpref", os.path.join(text_dir, "valid"),
           "--testpref", os.path.join(text_dir, "test"), "--destdir", dest_dir, "--joined-dictionary",
           "--workers", str(workers)]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        raise KdseqError(f"fairseq-preprocess failed (exit {res.returncode}):\n{res.stdout[-3000:]}")
