"""Text as kdseq reads and writes it: sentencepiece pieces back to text, and the CJK character classes that ROUGE's
tokenizer and the Chinese-text filters share."""

CJK_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ext. A, unified, compatibility ideographs
CJK_CHARS = ("\u3040-\u30ff" + CJK_IDEOGRAPHS + "\uac00-\ud7af"
             "\U00020000-\U0003ffff")  # kana, the ideographs above, hangul; ext. B-H, compat. suppl.


def detok(pieces):
    """sentencepiece pieces (a list of strings) -> text, as fairseq's ``--post-process sentencepiece``."""
    return "".join(pieces).replace("\u2581", " ").strip()


def ids_to_text(ids, symbols):
    """Target ids -> text, as fairseq's ``Dictionary.string(ids, "sentencepiece")``: <s> and </s> (ids 0 and 2 of
    every fairseq dictionary) are left out, every other symbol kept as it is (``<unk>`` too)."""
    return detok([symbols[t] for t in ids if t != 0 and t != 2])
