"""kdseq-prepare: parallel corpus -> clean splits, sentencepiece model, fairseq binarized data."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.prepare import Corpora, Filters, PrepareConfig, Vocabulary, prepare


def held_out_size(value):
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of pairs, or auto") from None


def get_parser():
    p = argparse.ArgumentParser(
        prog="kdseq-prepare",
        description="Turn a parallel corpus into plain-text splits, a joint sentencepiece model and a fairseq "
                    "binarized directory with a joined dictionary. A corpus is FILE.tsv (source<TAB>target) or "
                    "a PREFIX naming PREFIX.<src-lang> and PREFIX.<tgt-lang>.")
    p.add_argument("--train", required=True, help="training corpus: FILE.tsv or PREFIX")
    p.add_argument("--valid", help="validation corpus (FILE.tsv or PREFIX); with --test")
    p.add_argument("--test", help="test corpus (FILE.tsv or PREFIX); with --valid")
    p.add_argument("--extra-test", action="append", default=[], metavar="CORPUS",
                   help="another held-out test corpus (repeatable; with --valid/--test): binarized as split test1, "
                        "test2, ... (kdseq-evaluate --split test1), its text in raw/test1.*")
    p.add_argument("--spm-train-text", action="append", default=[], metavar="FILE",
                   help="plain text the sentencepiece model also learns from (repeatable); the dictionary is then "
                        "every piece of the model, so other corpora prepared with --spm-model/--dict binarize "
                        "without <unk> (one vocabulary for all models of a task)")
    p.add_argument("--valid-size", type=held_out_size, default="auto",
                   help="without --valid/--test: pairs split off train (auto: 5%% of its distinct sources, at least "
                        "100, at most 1000)")
    p.add_argument("--test-size", type=held_out_size, default="auto", help="the same, for the test set")
    p.add_argument("--src-lang", required=True, help="source language code, e.g. en")
    p.add_argument("--tgt-lang", required=True, help="target language code, e.g. de")
    p.add_argument("--out-dir", required=True, help="output folder (created atomically)")
    p.add_argument("--vocab-size", type=int, default=8000, help="joint sentencepiece vocabulary size")
    p.add_argument("--character-coverage", type=float, default=None,
                   help="sentencepiece character coverage (default 0.9995 for zh/ja/ko, else 1.0)")
    p.add_argument("--spm-sentences", type=int, default=1_000_000, metavar="N",
                   help="sentencepiece learns from a random sample of N lines of the training text (all of it when "
                        "shorter): its memory grows with N (about 3 KB a line), not with the corpus")
    p.add_argument("--max-len", type=int, default=250, help="drop training pairs longer than this (subwords)")
    p.add_argument("--truncate-source", type=int, default=None, metavar="N",
                   help="keep the first N pieces of every source (and teacher source) in every split: a long "
                        "text's lead, as headline generation reads it (Rush et al. 2015 read the first sentence); "
                        "then no row is dropped for a long source, and --max-len applies to the cut source")
    p.add_argument("--drop-overlap", action="store_true",
                   help="remove from train the pairs whose source occurs in valid/test, instead of failing")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    p.add_argument("--spm-model", help="reuse this sentencepiece model (e.g. another preparation's spm.model) "
                                       "instead of training one: students and teachers share vocabularies")
    p.add_argument("--dict", help="with --spm-model: reuse this fairseq dictionary (e.g. <prepared>/bin/dict.en.txt)"
                                  " for both sides, so the binarized ids match the other preparation's")
    p.add_argument("--teacher-source-lang", metavar="L",
                   help="the corpus has a third side, the source a teacher reads (a TSV's third field, or "
                        "PREFIX.teacher.L), kept aligned through every filter and binarized into <out-dir>/bin-teacher; "
                        "L1,L2: a fourth side too, a second teacher's source (<out-dir>/bin-teacher2), which may be "
                        "empty on a row (that teacher then has nothing to read there)")
    p.add_argument("--force", action="store_true",
                   help="rebuild a kdseq-prepare output made from other inputs or settings")
    return p


@user_errors("kdseq-prepare")
def main(argv=None):
    a = get_parser().parse_args(argv)
    cfg = PrepareConfig(
        Corpora(a.train, a.valid, a.test, tuple(a.extra_test), a.teacher_source_lang), a.src_lang, a.tgt_lang,
        a.out_dir,
        vocab=Vocabulary(a.vocab_size, a.character_coverage, a.spm_model, a.dict, tuple(a.spm_train_text),
                         a.spm_sentences),
        filters=Filters(a.valid_size, a.test_size, a.seed, a.drop_overlap, a.max_len, a.truncate_source),
        workers=a.workers, force=a.force)
    counts = prepare(cfg)
    print(json.dumps(counts, sort_keys=True))


def cli_main():
    raise SystemExit(main())
