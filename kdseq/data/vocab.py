"""The vocabulary stages of kdseq-prepare: a joint sentencepiece model, a fairseq dictionary, binarization."""
import logging
import os

from kdseq.data.binarized import Dictionary, write_indexed
from kdseq.errors import KdseqError


def default_character_coverage(langs):
    """sentencepiece's advice: 0.9995 for languages with large character sets, 1.0 otherwise."""
    return 0.9995 if any(lang.split("-")[0].split("_")[0] in ("zh", "ja", "ko") for lang in langs) else 1.0


def train_sentencepiece(text_files, model_prefix, vocab_size, character_coverage, sample):
    """A unigram model learnt from ``sample`` lines of ``text_files`` drawn at random (all of them when fewer)."""
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=",".join(text_files), model_prefix=model_prefix, vocab_size=vocab_size,
        character_coverage=character_coverage, model_type="unigram", hard_vocab_limit=False,
        input_sentence_size=sample, shuffle_input_sentence=True,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, num_threads=os.cpu_count() or 1, minloglevel=2,
    )


def check_reuse(spm_model, dictionary):
    """A reused sentencepiece model and dictionary must load (and a dictionary needs its model)."""
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
        try:
            d = Dictionary.load(dictionary)
        except (OSError, KdseqError, ValueError, IndexError) as e:
            raise KdseqError(f"--dict {dictionary}: not a fairseq dictionary ({type(e).__name__}: {e})") from None
        if len(d.symbols) <= 4:
            raise KdseqError(f"--dict {dictionary}: not a fairseq dictionary (no symbol in it)")


def write_dictionary_from_vocab(vocab_file, dict_file):
    """A fairseq dictionary holding every piece of a sentencepiece model (``<unk>`` and the control symbols are
    fairseq's own), in the model's order; counts are placeholders (fairseq reads but never uses them)."""
    with open(vocab_file, encoding="utf-8") as f:
        pieces = [line.split("\t")[0] for line in f if line.strip()]
    with open(dict_file, "w", encoding="utf-8") as f:
        for p in pieces:
            if p not in ("<unk>", "<s>", "</s>", "<pad>") and " " not in p:
                f.write(f"{p} 1\n")


def binarize(text_dir, dest_dir, langs, workers, dictionary=None, extra=()):
    """fairseq-preprocess's output with a joined dictionary over text_dir/{train,valid,test}.{src,tgt}
    (``langs``: (src, tgt); ``dictionary``: an existing one, reused as it is; ``extra``: more test splits test1, ...
    binarized under those names). fairseq-preprocess itself builds and writes the dictionary (``--dict-only``,
    in-process: a subprocess would import fairseq a second time); the files are encoded here, ``workers`` at once,
    byte-identical to fairseq's binarizer and several times faster (it makes a torch tensor of every line)."""
    from fairseq import options
    from fairseq_cli import preprocess

    argv = ["--source-lang", langs[0], "--target-lang", langs[1], "--trainpref", os.path.join(text_dir, "train"),
            "--destdir", dest_dir, "--joined-dictionary", "--workers", str(workers), "--dict-only"]
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
    pair = f"{langs[0]}-{langs[1]}"
    jobs = [(os.path.join(text_dir, f"{split}.{lang}"), os.path.join(dest_dir, f"{split}.{pair}.{lang}"),
             os.path.join(dest_dir, f"dict.{langs[0]}.txt"))
            for split in ("train", "valid", "test", *extra) for lang in langs]
    jobs.sort(key=lambda job: -os.path.getsize(job[0]))  # the largest first: the pool ends together
    if workers > 1:
        import multiprocessing

        with multiprocessing.Pool(min(workers, len(jobs))) as pool:  # the platform default, as fairseq-preprocess
            stats = pool.starmap(binarize_file, jobs)
    else:
        stats = [binarize_file(*job) for job in jobs]
    with open(os.path.join(dest_dir, "preprocess.log"), "a", encoding="utf-8") as f:
        for (text, _, _), (lines, tokens, unk) in zip(jobs, stats):
            f.write(f"{os.path.basename(text)}: {lines} sents, {tokens} tokens, {100 * unk / max(tokens, 1):.3f}% "
                    "replaced by <unk>\n")


def binarize_file(text, prefix, dict_file):
    """``prefix``.bin/.idx of the text file ``text``, one sequence per line: its whitespace-separated symbols'
    indices in ``dict_file`` then EOS, as fairseq's binarizer writes them (``Dictionary.encode_line``: unknown
    symbols are <unk>; lines read with universal newlines, as fairseq reads them). Returns (lines, tokens, unks)."""
    d = Dictionary.load(dict_file)
    index, unk, counts = d.indices, d.unk_index, [0, 0, 0]

    def seqs():
        with open(text, encoding="utf-8") as f:
            for line in f:
                ids = [index.get(w, unk) for w in line.split()]
                counts[0] += 1
                counts[1] += len(ids) + 1
                counts[2] += ids.count(unk)
                yield ids

    write_indexed(prefix, seqs(), len(d), d.eos_index)
    return tuple(counts)
