"""Text as kdseq reads and writes it: sentencepiece pieces back to text, and the CJK character classes that ROUGE's
tokenizer and the Chinese-text filters share."""
import re

CJK_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ext. A, unified, compatibility ideographs
CJK_CHARS = ("\u3040-\u30ff" + CJK_IDEOGRAPHS + "\uac00-\ud7af"
             "\U00020000-\U0003ffff")  # kana, the ideographs above, hangul; ext. B-H, compat. suppl.
_CJK_IDEOGRAPH = re.compile(f"[{CJK_IDEOGRAPHS}]")


def has_cjk(text):
    """Whether ``text`` holds a Chinese ideograph (a Chinese target, not an untranslated English fall-back)."""
    return _CJK_IDEOGRAPH.search(text) is not None


def detok(pieces):
    """sentencepiece pieces (a list of strings) -> text, as fairseq's ``--post-process sentencepiece``."""
    return "".join(pieces).replace("\u2581", " ").strip()


def ids_to_text(ids, symbols):
    """Target ids -> text, as fairseq's ``Dictionary.string(ids, "sentencepiece")``: <s> and </s> (ids 0 and 2 of
    every fairseq dictionary) are left out, every other symbol kept as it is (``<unk>`` too)."""
    return detok([symbols[t] for t in ids if t != 0 and t != 2])
