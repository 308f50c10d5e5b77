"""Read a parallel corpus (a TSV file, or two line-aligned text files) and check it.

Every problem is a :class:`KdseqError` naming the file and line, so the user can fix the input.
"""
import os

from kdseq.errors import KdseqError


def _read_lines(path):
    if not os.path.exists(path):
        raise KdseqError(f"{path}: no such file")
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for i, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise KdseqError(f"{path}:{i}: bytes that are not UTF-8 ({e.reason} at byte {e.start} of the line): "
                             "convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or drop the line") from None
    if not out:
        raise KdseqError(f"{path}: the file is empty: give a corpus with at least one line")
    return out


def corpus_files(spec, src_lang, tgt_lang):
    """The file(s) a corpus spec names: ``X.tsv`` itself, or ``PREFIX.src_lang`` and ``PREFIX.tgt_lang``."""
    if spec.endswith(".tsv"):
        return [spec]
    return [f"{spec}.{src_lang}", f"{spec}.{tgt_lang}"]


def read_parallel(spec, src_lang, tgt_lang):
    """Pairs of (source, target) strings from ``spec`` (see :func:`corpus_files`), checked.

    Errors: missing file, empty file, undecodable bytes (file:line), TSV line without exactly one tab,
    two files whose line counts differ (both files, both counts). Pairs with an empty side are returned as
    they are: the caller decides (kdseq-prepare drops and counts them).
    """
    files = corpus_files(spec, src_lang, tgt_lang)
    if len(files) == 1:
        pairs, path = [], files[0]
        for i, line in enumerate(_read_lines(path), 1):
            fields = line.split("\t")
            if len(fields) != 2:
                raise KdseqError(f"{path}:{i}: expected 2 tab-separated fields (source<TAB>target), "
                                 f"found {len(fields)}")
            pairs.append((fields[0].strip(), fields[1].strip()))
    else:
        src_path, tgt_path = files
        src, tgt = _read_lines(src_path), _read_lines(tgt_path)
        if len(src) != len(tgt):
            raise KdseqError(f"line counts differ: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}: "
                             "the two sides of a parallel corpus must be line-aligned")
        pairs = [(s.strip(), t.strip()) for s, t in zip(src, tgt)]
    return pairs


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
