"""fairseq's binarized folders read and written with numpy alone: dictionaries (``dict.<lang>.txt``) and the
``mmap`` indexed datasets (``<split>.<src>-<tgt>.<lang>.{bin,idx}``) of fairseq-preprocess.

Importing fairseq costs seconds (it imports every task, model and hydra); commands that only move token ids
around (kdseq-regenerate with CTranslate2 decoding) read and write the same bytes with these instead. Tested
against fairseq's own reader and builder: the same ids, the same symbols, byte-identical files.
"""
import glob
import hashlib
import os
import struct
from array import array

import numpy as np

from kdseq.errors import KdseqError

_MAGIC = b"MMIDIDX\x00\x00"
# fairseq.data.indexed_dataset._code_to_dtype
_CODE_TO_DTYPE = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.double,
                  8: np.uint16, 9: np.uint32, 10: np.uint64}


class Dictionary:
    """The symbols of a fairseq dictionary file, indexed as fairseq's ``Dictionary.load`` indexes them: <s>,
    <pad>, </s>, <unk> first, then one symbol per line (``#fairseq:overwrite`` appends a duplicate)."""

    def __init__(self):
        self.symbols, self.indices = [], {}
        for s in ("<s>", "<pad>", "</s>", "<unk>"):
            self._add(s)
        self.bos_index, self.pad_index, self.eos_index, self.unk_index = 0, 1, 2, 3

    def _add(self, word):
        self.indices[word] = len(self.symbols)
        self.symbols.append(word)

    @classmethod
    def load(cls, path):
        d = cls()
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except UnicodeError:
            raise KdseqError(f"{path}: not UTF-8 text: not a fairseq dictionary") from None
        for n, line in enumerate(lines, 1):
            try:
                word, field = line.rstrip().rsplit(" ", 1)
                overwrite = field == "#fairseq:overwrite"
                if overwrite:
                    word, field = word.rsplit(" ", 1)
                int(field)
            except ValueError:
                raise KdseqError(f"{path}, line {n}: expected '<symbol> <count> [#fairseq:overwrite]', found "
                                 f"{line.rstrip()[:80]!r}: not a fairseq dictionary") from None
            if word in d.indices and not overwrite:
                raise KdseqError(f"{path}, line {n}: duplicate symbol {word!r} (fairseq refuses it too)")
            d._add(word)
        return d

    def __len__(self):
        return len(self.symbols)

    def bos(self):
        return self.bos_index

    def pad(self):
        return self.pad_index

    def eos(self):
        return self.eos_index

    def unk(self):
        return self.unk_index

    def index(self, sym):
        return self.indices.get(sym, self.unk_index)


def symbols_sha256(symbols):
    return hashlib.sha256("\n".join(symbols).encode("utf-8")).hexdigest()


class IndexedSeqs:
    """The token ids of one binarized file (``prefix``.idx/.bin, fairseq's mmap format), EOS included."""

    def __init__(self, prefix):
        idx = prefix + ".idx"
        try:
            with open(idx, "rb") as f:
                head = f.read(26)
        except OSError as e:
            raise KdseqError(f"{idx}: cannot read it ({e.strerror})") from None
        if head[:9] != _MAGIC:
            raise KdseqError(f"{idx}: not in fairseq's mmap format (fairseq-preprocess --dataset-impl mmap, its "
                             "default, and kdseq-prepare write it): binarize the corpus again in that format")
        version, code, n = struct.unpack("<QBQ", head[9:26])
        if version != 1 or code not in _CODE_TO_DTYPE:
            raise KdseqError(f"{idx}: unknown index version {version} or type code {code}")
        self.dtype = _CODE_TO_DTYPE[code]
        index = np.memmap(idx, mode="r", dtype=np.uint8)
        self.sizes = np.frombuffer(index, dtype=np.int32, count=n, offset=26)
        self.pointers = np.frombuffer(index, dtype=np.int64, count=n, offset=26 + self.sizes.nbytes)
        bin_path = prefix + ".bin"
        if not os.path.exists(bin_path):
            raise KdseqError(f"{bin_path} is missing (its index {idx} exists): binarize the corpus again")
        size = os.path.getsize(bin_path)
        item = np.dtype(self.dtype).itemsize
        if n and int(self.pointers[-1]) + int(self.sizes[-1]) * item > size:
            raise KdseqError(f"{bin_path}: shorter than its index {idx} says (a partial copy?): binarize again")
        self.data = np.memmap(bin_path, mode="r", dtype=self.dtype) if size else np.zeros(0, self.dtype)
        self.item = item

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, i):
        start = int(self.pointers[i]) // self.item
        return self.data[start:start + int(self.sizes[i])]


def exists(prefix):
    return os.path.exists(prefix + ".idx")


def write_indexed(prefix, seqs, vocab_size, eos):
    """``prefix``.bin/.idx from ``seqs`` (token ids without EOS; EOS appended), byte-identical to fairseq's
    ``make_builder(..., impl="mmap", vocab_size=vocab_size)``."""
    dtype = np.uint16 if vocab_size < 65500 else np.uint32 if vocab_size < 4294967295 else np.int64
    sizes = array("i")
    with open(prefix + ".bin", "wb") as f:
        for s in seqs:
            a = np.array(list(s) + [eos], dtype=dtype)
            f.write(a.tobytes(order="C"))
            sizes.append(a.size)
    item = np.dtype(dtype).itemsize
    pointers = np.zeros(len(sizes), dtype=np.int64)
    if sizes:
        pointers[1:] = np.cumsum(np.frombuffer(sizes, dtype=np.int32)[:-1].astype(np.int64) * item)
    code = next(k for k, v in _CODE_TO_DTYPE.items() if v == dtype)
    with open(prefix + ".idx", "wb") as f:
        f.write(_MAGIC + struct.pack("<Q", 1) + struct.pack("<B", code) + struct.pack("<Q", len(sizes)))
        f.write(sizes.tobytes())
        f.write(pointers.tobytes(order="C"))


def check_binarized_folder(folder, flag):
    """A folder that exists and has at least two dictionaries, or a KdseqError naming ``flag``."""
    if not os.path.isdir(folder):
        raise KdseqError(f"{flag} {folder}: no such data folder (give a fairseq binarized folder, e.g. "
                         "<prepared>/bin)")
    if len(glob.glob(os.path.join(glob.escape(folder), "dict.*.txt"))) < 2:
        raise KdseqError(f"{flag} {folder}: not a fairseq binarized folder (it needs dict.<src>.txt and "
                         "dict.<tgt>.txt; kdseq-prepare writes one as <out-dir>/bin)")


def infer_language_pair(folder):
    """(src, tgt) from the first file named ``<split>.<src>-<tgt>.*``, as fairseq infers it; (None, None)."""
    for name in os.listdir(folder):
        parts = name.split(".")
        if len(parts) >= 3 and len(parts[1].split("-")) == 2:
            return tuple(parts[1].split("-"))
    return None, None


def split_prefix(folder, split, src, tgt, lang):
    """The binarized file of ``lang`` for ``split`` (``<split>.<src>-<tgt>.<lang>``, or the reversed pair as
    fairseq also accepts), or None."""
    for a, b in ((src, tgt), (tgt, src)):
        prefix = os.path.join(folder, f"{split}.{a}-{b}.{lang}")
        if exists(prefix):
            return prefix
    return None


def fingerprint_seqs(symbols, n, *sides):
    """sha256 of the dictionary's symbols and, for each sentence, the token ids of each side (int32), the sides
    separated as :func:`kdseq.cache.fingerprint` separates them: ``sides`` = (marker, seqs) pairs, the first
    marker empty."""
    h = hashlib.sha256()
    h.update("\n".join(symbols).encode("utf-8"))
    for i in range(n):
        for marker, seqs in sides:
            if marker:
                h.update(marker)
            h.update(np.asarray(seqs[i]).astype(np.int32).tobytes())
        h.update(b"\n")
    return h.hexdigest()


def check_same_dictionary(teacher_dict, teacher_file, student_dict, student_file, side="target",
                          who=("teacher", "student"), advice=None):
    """Dictionaries compared by content (every symbol in order), the first difference named."""
    if teacher_dict.symbols == student_dict.symbols:
        return
    advice = advice or ("distil with the teacher's dictionary (kdseq-prepare --spm-model/--dict, or "
                        "fairseq-preprocess --srcdict/--tgtdict)")
    for i, (a, b) in enumerate(zip(teacher_dict.symbols, student_dict.symbols)):
        if a != b:
            raise KdseqError(f"{who[0]} and {who[1]} {side} dictionaries differ: {teacher_file} has {a!r} at index "
                             f"{i} where {student_file} has {b!r}; {advice}")
    raise KdseqError(f"{who[0]} and {who[1]} {side} dictionaries differ in size: {teacher_file} has "
                     f"{len(teacher_dict)} entries, {student_file} has {len(student_dict)}; {advice}")
