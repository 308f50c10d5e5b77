"""Read a parallel corpus (a TSV file, or two line-aligned text files) and check it.

Every problem is a :class:`KdseqError` naming the file and line, so the user can fix the input.
"""
import itertools
import os
import re

from kdseq.errors import KdseqError

# Characters that would break a line-aligned corpus or that nobody means to train on: a lone CR and the other
# line boundaries of Python's universal newlines (fairseq reads text files with them, so a lone CR would shift
# every following line), other C0/C1 controls, zero-width spaces and joiners, BOMs. They become spaces.
_BREAKING = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200b\ufeff]")


def clean_text(text):
    """One line as kdseq keeps it: line-breaking and control characters (not tabs) replaced by spaces, then
    stripped. Zero-width joiners (U+200C/D) are kept: some scripts need them."""
    return _BREAKING.sub(" ", text).strip()


def _iter_lines(path):
    """(line number, text) of every line, split at LF only and read as a stream (a corpus of millions of lines is
    never held twice); a final CR is dropped."""
    if not os.path.exists(path):
        raise KdseqError(f"{path}: no such file")
    n = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                yield n, line.rstrip(b"\n").decode("utf-8").rstrip("\r")
            except UnicodeDecodeError as e:
                raise KdseqError(f"{path}:{n}: bytes that are not UTF-8 ({e.reason} at byte {e.start} of the line): "
                                 "convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or drop the line") \
                    from None
    if n == 0:
        raise KdseqError(f"{path}: the file is empty: give a corpus with at least one line")


def teacher_langs(teacher_lang):
    """The teachers' source languages of ``--teacher-source-lang``: None, ``L`` or ``L1,L2,...`` (one per teacher)."""
    return tuple(teacher_lang.split(",")) if teacher_lang else ()


def corpus_files(spec, src_lang, tgt_lang, teacher_lang=None):
    """The file(s) a corpus spec names: ``X.tsv`` itself, or ``PREFIX.src_lang`` and ``PREFIX.tgt_lang`` (and
    ``PREFIX.teacher.<L>`` for each language L of ``teacher_lang``, the sources teachers read)."""
    if spec.endswith(".tsv"):
        return [spec]
    return [f"{spec}.{src_lang}", f"{spec}.{tgt_lang}"] + [f"{spec}.teacher.{t}" for t in teacher_langs(teacher_lang)]


def iter_parallel(spec, src_lang, tgt_lang, teacher_lang=None):
    """Rows of (source, target) strings from ``spec`` (see :func:`corpus_files`), checked, as a stream (a corpus of
    millions of pairs is never held); with ``teacher_lang`` rows of (source, target, teacher source, ...): a TSV
    then has a field per teacher source more, a PREFIX a file more.

    Errors: missing file, empty file, undecodable bytes (file:line), TSV line with the wrong number of tabs,
    files whose line counts differ (the files, the counts). Line-breaking and control characters inside a line
    become spaces (:func:`clean_text`). Rows with an empty field are yielded as they are: the caller decides
    (kdseq-prepare drops and counts them).
    """
    files = corpus_files(spec, src_lang, tgt_lang, teacher_lang)
    width = 2 + len(teacher_langs(teacher_lang))
    if len(files) == 1:
        path = files[0]
        shape = "source<TAB>target" + "".join(f"<TAB>teacher source ({t})" for t in teacher_langs(teacher_lang))
        for i, line in _iter_lines(path):
            fields = line.split("\t")
            if len(fields) != width:
                raise KdseqError(f"{path}:{i}: expected {width} tab-separated fields ({shape}), found "
                                 f"{len(fields)}: remove the stray tab, or give the sides as PREFIX.<lang> files")
            yield tuple(clean_text(x) for x in fields)
        return
    for row in itertools.zip_longest(*(_iter_lines(f) for f in files)):
        if None in row:  # one file ended first: name every file's count
            counts = ", ".join(f"{f} has {sum(1 for _ in _iter_lines(f))} lines" for f in files)
            raise KdseqError(f"line counts differ: {counts}: the sides of a parallel corpus must be line-aligned")
        yield tuple(clean_text(text) for _, text in row)


def read_parallel(spec, src_lang, tgt_lang, teacher_lang=None):
    """:func:`iter_parallel` as a list (for held-out splits and other small corpora)."""
    return list(iter_parallel(spec, src_lang, tgt_lang, teacher_lang))


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
