"""Scores against values computed by hand."""
import math

import pytest

from kdseq import metrics


def test_bleu_hand_computed_with_exp_smoothing():
    # hyp "a b c d" vs ref "a b c e": precisions 3/4, 2/3, 1/2 and 0/1; sacreBLEU's default 'exp' smoothing
    # turns the first zero count into 1/(2*1). Same length: brevity penalty 1.
    expected = 100 * (0.75 * (2 / 3) * 0.5 * 0.5) ** 0.25
    score, sig = metrics.bleu(["a b c d"], ["a b c e"], "de")
    assert score == pytest.approx(expected, abs=1e-6)  # 59.46
    assert "tok:13a" in sig and "smooth:exp" in sig


def test_bleu_brevity_penalty():
    # hyp of 8 tokens, every n-gram matches the reference of 10 tokens: BLEU = BP = exp(1 - 10/8).
    ref = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"
    score, _ = metrics.bleu(["w1 w2 w3 w4 w5 w6 w7 w8"], [ref], "en")
    assert score == pytest.approx(100 * math.exp(1 - 10 / 8), abs=1e-6)


def test_bleu_chinese_uses_zh_tokenizer():
    # Unsegmented Chinese: with tok 13a this is one "word" and scores 0; with tok zh every character counts.
    score, sig = metrics.bleu(["我爱北京天安门"], ["我爱北京天安门"], "zh")
    assert score == pytest.approx(100.0)
    assert "tok:zh" in sig
    # one character a token: 1-grams 5/7, 2-grams 3/6 (我爱 天安 安门), 3-grams 1/5 (天安门), 4-grams 0/4 ->
    # 1/(2*4) by exp smoothing; equal lengths
    partial, _ = metrics.bleu(["我爱北京天安门"], ["我爱上海天安门"], "zh")
    assert partial == pytest.approx(100 * (5 / 7 * 3 / 6 * 1 / 5 * 1 / 8) ** 0.25, abs=1e-6)  # 30.74


def test_chrf_bounds_and_order():
    assert metrics.chrf(["Größe ändern"], ["Größe ändern"])[0] == pytest.approx(100.0)
    assert metrics.chrf(["xyz"], ["abc"])[0] == pytest.approx(0.0)
    close = metrics.chrf(["Die Größe ändern"], ["Größe ändern"])[0]
    far = metrics.chrf(["Die Farbe wählen"], ["Größe ändern"])[0]
    assert 0 < far < close < 100


def test_rouge_chinese_characters_hand_computed():
    # 我爱北京 vs 我爱上海: unigrams 2 of 4 match (F 0.5); bigrams 我爱 of 3 (F 1/3); LCS 我爱 = 2 (F 0.5).
    r = metrics.rouge(["我爱北京"], ["我爱上海"])
    assert r["rouge1"] == pytest.approx(50.0)
    assert r["rouge2"] == pytest.approx(100 / 3)
    assert r["rougeL"] == pytest.approx(50.0)


def test_rouge_tokenizer_keeps_every_script():
    tok = metrics.RougeTokenizer()
    assert tok.tokenize("F4键 Größe ändern") == ["f4", "键", "größe", "ändern"]
    # rouge-score's own tokenizer would drop these: check ours is the one in use (non-zero score).
    assert metrics.rouge(["Größe"], ["Größe"])["rouge1"] == pytest.approx(100.0)


def test_score_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        metrics.score(["a", "b"], ["a"], "en")


def test_rouge_tokenizer_normalises_and_knows_every_cjk_block():
    tok = metrics.RougeTokenizer()
    # a decomposed accent (e + U+0301) is the same word as the composed one, not 'caf' + 'e'
    assert tok.tokenize("cafe\u0301 Caf\u00e9") == ["café", "café"]
    assert tok.tokenize("q\u0303x") == ["q\u0303x"]  # a mark with no composed form stays in its word
    # Extension B (U+20000...) ideographs are single tokens like U+4E00...; a compatibility ideograph
    # (U+2F800) is one token too, in its canonical (NFC) form U+4E3D
    assert tok.tokenize("\U00020000\U0002a6d6中\U0002f800文") == ["\U00020000", "\U0002a6d6", "中", "\u4e3d", "文"]
    assert metrics.rouge(["\U00020000\U00020001"], ["\U00020000\U00020002"])["rouge1"] == pytest.approx(50.0)


def test_bleu_tokenizer_by_language():
    assert [metrics.sacrebleu_tokenize(x) for x in ("zh", "zh-CN", "ja", "ko", "de", "en")] == \
        ["zh", "zh", "char", "char", "13a", "13a"]


def test_loops_is_one_span_three_times_in_a_row():
    """A CJK character, a word, or a run of up to 4 tokens three times running is a loop; twice, a span of 5, or a
    digit run inside one number is not."""
    from kdseq.metrics import loops

    assert loops("简单单单") and loops("打开 file file file") and loops("图图图像")
    assert not loops("简单单") and not loops("参数: 参数") and not loops("1000") and not loops("选项...")
    assert loops("插入插入插入") and loops("x 插入图表插入图表插入图表")
    assert not loops("插入插入") and not loops("abcde" * 3) and not loops("一二三四五" * 3)
    assert loops("一二三四五" * 3, longest=5)
    assert not loops("")
