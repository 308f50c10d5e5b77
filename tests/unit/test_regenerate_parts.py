"""The pure parts of kdseq-regenerate: degenerate-output filters, seq-inter selection, length batching."""
import re

import pytest
from sacrebleu.metrics import BLEU

from kdseq.decoding.backends import length_batches
from kdseq.seqkd.filters import degenerate_reason, max_tandem_repeat
from kdseq.seqkd.scoring import first_argmax, sentence_scorer


def select_hypothesis(texts, ref, score):
    """What the merge does for one sentence: the n-best hypothesis rated highest, ties to the better rank."""
    return first_argmax([score(t, ref) for t in texts])


@pytest.mark.parametrize("text,expected", [
    ("", 0), ("a", 1), ("a b c", 1), ("a a a a", 4), ("a b a b a b", 3), ("x a b c a b c y", 2),
    ("a b c d a b c d a b c d", 3),  # a 4-gram three times
    ("a b c d e a b c d e", 1),      # 5-grams are not counted (n <= 4)
    ("p a a q", 2),
])
def test_max_tandem_repeat(text, expected):
    assert max_tandem_repeat(text.split()) == expected


def test_degenerate_reasons():
    src = "▁the ▁big ▁house".split()
    assert degenerate_reason([], src, 3.0, 4) == "empty"
    assert degenerate_reason("▁das".split() * 10, src, 3.0, 4) == "length_ratio"  # 10 pieces for 3: ratio 3.3
    assert degenerate_reason("▁das".split() * 9, src, 3.0, 0) is None               # ratio 3.0 is allowed
    assert degenerate_reason(["▁x"], "a b c d".split(), 3.0, 4) == "length_ratio"  # 4 times shorter
    assert degenerate_reason("▁das ▁das ▁das ▁das".split(), src, 3.0, 4) == "repeats"
    assert degenerate_reason("▁das ▁das ▁das".split(), src, 3.0, 4) is None
    # the source repeats just as much: a faithful translation of it is kept
    assert degenerate_reason("- - - - -".split(), "- - - - -".split(), 3.0, 4) is None
    assert degenerate_reason("▁das ▁das ▁das ▁das".split(), src, 3.0, 0) is None  # filter off


def test_sentence_bleu_is_sacrebleus_smoothed_sentence_bleu():
    ref = "the cat sat on the mat"
    hyp = "the cat sat on the mat today"
    # by hand: 6/7 unigrams, 5/6 bigrams, 4/5 trigrams, 3/4 4-grams match; longer than the ref, so BP = 1
    by_hand = 100 * (6 / 7 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25
    assert sentence_scorer("bleu", "en")(hyp, ref) == pytest.approx(by_hand, abs=1e-9)
    ref_impl = BLEU(effective_order=True).sentence_score(hyp, [ref]).score
    assert sentence_scorer("bleu", "en")(hyp, ref) == pytest.approx(ref_impl)


def test_sentence_bleu_equals_sacrebleu_on_many_pairs():
    """The n-gram-memo implementation against sacreBLEU's own sentence_score: random word soup with partial
    overlaps, empty and one-word hypotheses, punctuation (13a splits it off), and Chinese (tokenizer zh)."""
    import random

    rng = random.Random(3)
    words = "der die das Haus Baum , . ( ) - klein groß und oder 1 2 3 Zelle Tabelle".split()
    pairs = [("", "das Haus"), ("Haus", "das Haus ist klein."), ("x y z", "a b c"), ("das Haus.", "das Haus.")]
    for _ in range(300):
        ref = [rng.choice(words) for _ in range(rng.randint(1, 15))]
        hyp = [w if rng.random() < 0.6 else rng.choice(words) for w in ref][: rng.randint(0, 18)]
        pairs.append((" ".join(hyp), " ".join(ref)))
    ours = sentence_scorer("bleu", "de")
    ref_impl = BLEU(effective_order=True)
    for hyp, ref in pairs:
        assert ours(hyp, ref) == pytest.approx(ref_impl.sentence_score(hyp, [ref]).score, abs=1e-9), (hyp, ref)
    zh = sentence_scorer("bleu", "zh")
    zh_ref = BLEU(effective_order=True, tokenize="zh")
    for hyp, ref in (("我们在图表中插入标题", "在图表中插入一个标题"), ("选择格式", "选择格式 - 单元格")):
        assert zh(hyp, ref) == pytest.approx(zh_ref.sentence_score(hyp, [ref]).score, abs=1e-9)


def test_seq_inter_picks_the_hypothesis_closest_to_the_reference():
    ref = "the cat sat on the mat"
    nbest = ["a dog ran", "the cat sat on a mat", "the cat sat on the mat today", "cat mat"]
    # sentence BLEU: 0, 100*(5/6*3/5*2/4*1/3)**0.25 = 53.7, 80.9 (above), and "cat mat" is short: BP < 1
    assert select_hypothesis(nbest, ref, sentence_scorer("bleu", "en")) == 2
    assert select_hypothesis(nbest, ref, sentence_scorer("chrf", "en")) == 2
    # ties go to the teacher's better-ranked hypothesis
    assert select_hypothesis(["x y", "the cat", "the cat"], "the cat", sentence_scorer("bleu", "en")) == 1
    # chrF sees characters: a near-miss spelling beats an unrelated word, BLEU cannot tell them apart
    assert select_hypothesis(["Hund", "Katzen"], "Katze", sentence_scorer("chrf", "de")) == 1


def test_unknown_selector_is_refused():
    with pytest.raises(Exception, match="--select rouge"):
        sentence_scorer("rouge", "en")


def test_length_batches_cover_every_id_once_within_limits():
    lengths = {i: (i * 7) % 23 + 1 for i in range(200)}
    ids = list(range(10, 190))
    batches = list(length_batches(ids, lengths, max_tokens=60, max_sentences=8))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == ids
    for b in batches:
        assert len(b) <= 8
        assert max(lengths[i] for i in b) * len(b) <= 60 or len(b) == 1
    # longest first, so the padded size of a batch is its first sentence's length
    assert [lengths[i] for i in flat] == sorted((lengths[i] for i in ids), reverse=True)


from kdseq.seqkd.config import Runtime, Search  # noqa: E402


class _Teacher:
    paths = ["teacher.pt"]
    dict_dirs = ["data"]
    langs = [("en", "de")]  # the teacher's own language names (CTranslate2 converts it under them)


@pytest.mark.parametrize("torch_gpu,ct2_gpu,device,expect", [
    (True, False, "auto", ("fairseq", "cuda")),     # CUDA 13 machine: fairseq on the GPU, not CTranslate2 on the CPU
    (True, True, "auto", ("ctranslate2", "cuda")),
    (False, False, "auto", ("ctranslate2", "cpu")),
    (True, False, "cpu", ("ctranslate2", "cpu")),
    (True, False, "cuda", ("fairseq", "cuda")),
])
def test_auto_backend_on_a_gpu_that_ctranslate2_cannot_use(monkeypatch, torch_gpu, ct2_gpu, device, expect):
    from kdseq.decoding import backends

    monkeypatch.setattr(backends, "_torch_gpu", lambda: torch_gpu)
    monkeypatch.setattr(backends, "gpu_present", lambda: torch_gpu)
    monkeypatch.setattr(backends, "ct2_cuda_available", lambda: ct2_gpu)
    monkeypatch.setattr(backends, "convert_to_ct2", lambda *a: ("ct2-dir", 0.0))
    monkeypatch.setattr(backends, "CTranslate2Backend",
                        lambda model_dir, corpus, search, device, *rest: ("ctranslate2", device))
    monkeypatch.setattr(backends, "FairseqBackend", lambda teacher, corpus, search, device, fp16: ("fairseq", device))
    corpus = type("C", (), {"teacher_src_lang": "en", "tgt_lang": "de"})()
    made, info = backends.make_backend(corpus, _Teacher(), ["sha"], Search(), Runtime(device=device))
    assert made == expect and info["device"] == expect[1]


def test_ctranslate2_asked_for_on_a_gpu_it_cannot_use_is_refused(monkeypatch):
    from kdseq.errors import KdseqError
    from kdseq.decoding import backends

    monkeypatch.setattr(backends, "ct2_cuda_available", lambda: False)
    with pytest.raises(KdseqError, match="--backend ctranslate2: CTranslate2 cannot decode on this GPU.*--backend fairseq"):
        backends.make_backend(None, _Teacher(), ["sha"], Search(), Runtime(backend="ctranslate2", device="cuda"))


def test_a_resume_compares_every_field_of_the_decoding_configuration(tmp_path):
    """The resume keys come from Search itself: a folder started with loop control refuses a resume without it,
    and a state.json written before a field existed matches a resume at that field's default."""
    from dataclasses import fields

    from kdseq.decoding.search import Search
    from kdseq.errors import KdseqError
    from kdseq.seqkd.chunks import STATE_KEYS, check_state

    assert {f.name for f in fields(Search)} <= set(STATE_KEYS)
    state = {"split": "train", "backend": "fairseq", **Search(no_repeat_ngram_size=3).record(), "chunk_size": 10}
    check_state(tmp_path, state)
    check_state(tmp_path, dict(state))  # the same settings: a resume
    with pytest.raises(KdseqError, match="started with no_repeat_ngram_size=3, this run has 0"):
        check_state(tmp_path, {**state, **Search().record(), "no_repeat_ngram_size": 0})
    old = tmp_path / "old"
    old.mkdir()
    check_state(old, {"split": "train", "beam": 5, "nbest": 1, "lenpen": 1.0, "max_len_a": 1.2, "max_len_b": 10,
                      "chunk_size": 10})  # written before the later fields existed
    check_state(old, {"split": "train", **Search().record(), "chunk_size": 10})


@pytest.mark.parametrize("kwargs, message", [
    ({"beam": 0}, "--beam 0: must be at least 1"), ({"nbest": 6}, "--nbest 6 is larger than --beam 5"),
    ({"lenpen": float("nan")}, "--lenpen nan"), ({"max_len_a": 0, "max_len_b": 0}, "not both 0"),
    ({"no_repeat_ngram_size": 1}, "--no-repeat-ngram-size 1: give 0"),
    ({"beam": 2, "sampling": True}, "sampling draws one hypothesis")])
def test_a_decoding_configuration_refuses_what_cannot_decode(kwargs, message):
    from kdseq.decoding.search import Search
    from kdseq.errors import KdseqError

    with pytest.raises(KdseqError, match=re.escape(message)):
        Search(**kwargs)
