"""Text helpers shared by the headline corpora's source readers."""
import re

from kdseq.text import has_cjk

_SPACE = re.compile(r"\s+")


def words(text):
    return len(text.split())


def clean(text):
    """Tabs and runs of whitespace as one space, stripped."""
    return _SPACE.sub(" ", text.replace("\t", " ")).strip()


def join_text(parts):
    """Paragraphs joined with a space, except between two CJK characters (Chinese has no spaces)."""
    out = ""
    for p in parts:
        p = p.strip()
        if out and p and not (has_cjk(out[-1]) and has_cjk(p[0])):
            out += " "
        out += p
    return out
