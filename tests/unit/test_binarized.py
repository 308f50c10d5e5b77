"""kdseq.data.binarized against fairseq's own reader and builder: the same symbols and ids, the same bytes."""
import numpy as np
import pytest
import torch

from kdseq.data import binarized
from kdseq.errors import KdseqError


def test_dictionary_indexes_symbols_as_fairseq(toy_prepared, tmp_path):
    from fairseq.data import Dictionary

    for lang in ("en", "de"):
        path = toy_prepared / "bin" / f"dict.{lang}.txt"
        ours, theirs = binarized.Dictionary.load(str(path)), Dictionary.load(str(path))
        assert ours.symbols == theirs.symbols and ours.indices == theirs.indices
        assert (ours.bos(), ours.pad(), ours.eos(), ours.unk()) == (theirs.bos(), theirs.pad(), theirs.eos(),
                                                                    theirs.unk())
    # the overwrite flag appends a duplicate that the index then points at, as in fairseq
    f = tmp_path / "dict.x.txt"
    f.write_text("a 5\nb 3\na 1 #fairseq:overwrite\n", encoding="utf-8")
    ours, theirs = binarized.Dictionary.load(str(f)), Dictionary.load(str(f))
    assert ours.symbols == theirs.symbols == ["<s>", "<pad>", "</s>", "<unk>", "a", "b", "a"]
    assert ours.index("a") == theirs.index("a") == 6 and ours.index("zzz") == 3


@pytest.mark.parametrize("text,expect", [("a 5\na 3\n", "line 2: duplicate symbol 'a'"),
                                         ("a 5\nb\n", "line 2: expected '<symbol> <count>"),
                                         ("a x\n", "line 1: expected")])
def test_a_bad_dictionary_is_named_with_its_line(tmp_path, text, expect):
    f = tmp_path / "dict.x.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(KdseqError, match=expect):
        binarized.Dictionary.load(str(f))


def test_indexed_seqs_read_what_fairseq_reads(toy_prepared):
    from fairseq.data import indexed_dataset

    for lang in ("en", "de"):
        prefix = str(toy_prepared / "bin" / f"train.en-de.{lang}")
        ours, theirs = binarized.IndexedSeqs(prefix), indexed_dataset.MMapIndexedDataset(prefix)
        assert len(ours) == len(theirs) > 1000
        assert all(ours[i].tolist() == theirs[i].tolist() for i in range(len(ours)))
        assert ours.sizes.tolist() == theirs.sizes.tolist()


@pytest.mark.parametrize("vocab", [60, 70000])
def test_written_files_are_byte_identical_to_fairseqs_builder(tmp_path, vocab):
    from fairseq.data import indexed_dataset

    rng = np.random.default_rng(0)
    seqs = [rng.integers(4, vocab, size=int(n)).tolist() for n in rng.integers(0, 30, size=200)]
    binarized.write_indexed(str(tmp_path / "ours"), seqs, vocab, 2)
    b = indexed_dataset.make_builder(str(tmp_path / "theirs.bin"), impl="mmap", vocab_size=vocab)
    for s in seqs:
        b.add_item(torch.IntTensor(s + [2]))
    b.finalize(str(tmp_path / "theirs.idx"))
    for ext in ("bin", "idx"):
        assert (tmp_path / f"ours.{ext}").read_bytes() == (tmp_path / f"theirs.{ext}").read_bytes()
    back = binarized.IndexedSeqs(str(tmp_path / "ours"))
    assert [back[i].tolist() for i in range(len(back))] == [s + [2] for s in seqs]


def test_index_in_another_format_or_cut_short_is_refused(toy_prepared, tmp_path):
    (tmp_path / "x.idx").write_bytes(b"TNTIDX\x00\x00" + bytes(40))
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(KdseqError, match="not in fairseq's mmap format"):
        binarized.IndexedSeqs(str(tmp_path / "x"))
    src = toy_prepared / "bin" / "train.en-de.en"
    (tmp_path / "y.idx").write_bytes(src.with_suffix(".en.idx").read_bytes())
    (tmp_path / "y.bin").write_bytes(src.with_suffix(".en.bin").read_bytes()[:100])
    with pytest.raises(KdseqError, match="shorter than its index"):
        binarized.IndexedSeqs(str(tmp_path / "y"))


def test_corpus_fingerprint_equals_the_cache_fingerprint_of_fairseqs_dataset(toy_prepared):
    """kdseq-regenerate's state.json (written by earlier versions through fairseq) must still match."""
    from kdseq.cache import fingerprint
    from kdseq.checkpoints import translation_task
    from kdseq.decoding.corpus import Corpus

    c = Corpus(str(toy_prepared / "bin"), "valid")
    task = translation_task(str(toy_prepared / "bin"))
    task.load_dataset("valid")
    assert c.fingerprint() == fingerprint(task.dataset("valid"), task.source_dictionary, target=False)
    assert [c.src_ids(i) for i in range(len(c))] == [task.dataset("valid").src[i][:-1].tolist()
                                                     for i in range(len(c))]
