"""LibreOffice help sections (a heading and the paragraphs after it, English and Chinese, aligned by page and
heading id) and the UI strings of LibreOffice's gettext catalogues."""
import gettext
import glob
import os
import re

from kdseq.data.libreoffice import iter_pages, parse_page
from kdseq.text import has_cjk
from kdseq.data.sources.text import clean, join_text, words

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def page_sections(path, cjk=False):
    """{heading id: (heading, [paragraph texts])} of one page: a heading (h1-h6 with an id) and the ``p``
    segments after it, up to the next heading. With ``cjk``, paragraphs without Chinese (untranslated) are left
    out."""
    sections, current = {}, None
    for tag, seg_id, text in parse_page(path):
        if tag in HEADINGS:
            current = seg_id if seg_id not in sections else None
            if current:
                sections[current] = (text, [])
        elif tag == "p" and current and (not cjk or has_cjk(text)):
            sections[current][1].append(text)
    return sections


def lo_sections(help_root, min_body_words=15):
    """English sections with a Chinese heading of the same page and id. Yields dicts: module, page, id,
    en_heading, en_body, zh_heading, zh_body ('' when no paragraph of it is translated)."""
    en_root, zh_root = os.path.join(help_root, "en-US"), os.path.join(help_root, "zh-CN")
    for rel in sorted(iter_pages(en_root)):
        zh_page = os.path.join(zh_root, "text", rel)
        en = page_sections(os.path.join(en_root, "text", rel))
        zh = page_sections(zh_page, cjk=True) if os.path.exists(zh_page) else {}
        for hid, (head, paras) in en.items():
            body = clean(join_text(paras))
            if words(body) < min_body_words or hid not in zh:
                continue
            zh_head, zh_paras = zh[hid]
            if not has_cjk(zh_head):
                continue
            yield {"module": rel.split(os.sep)[0], "page": rel, "id": hid, "en_heading": clean(head),
                   "en_body": body, "zh_heading": clean(zh_head), "zh_body": clean(join_text(zh_paras))}


def _catalogs(l10n_root):
    """(English msgid without its context, translation) of every singular entry of every catalogue, mnemonics
    (~ and _ before a letter) removed from both."""
    for mo in sorted(glob.glob(os.path.join(l10n_root, "*.mo"))):
        with open(mo, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        for key, tr in catalog.items():
            if isinstance(key, str) and isinstance(tr, str):  # not plural forms
                en = key.split("\x04")[-1]
                yield tuple(clean(re.sub(r"\(?[~_]([A-Za-z])\)?", r"\1", s).replace("~", "")) for s in (en, tr))


def ui_english(l10n_root, min_words=3):
    """The English UI strings and extended tips of LibreOffice (the msgids of any language's catalogues), once
    each, in catalogue order: those of at least ``min_words`` words without placeholders (% or $). Source-side
    monolingual text for forward translation; the catalogue's translations are not read."""
    seen = {}
    for en, _ in _catalogs(l10n_root):
        if len(en.split()) >= min_words and "%" not in en and "$" not in en:
            seen.setdefault(en, None)
    return list(seen)


def ui_strings(l10n_root):
    """(English, Chinese) UI strings of LibreOffice's gettext catalogues (mnemonics ~ and _ removed)."""
    return [(en, zh) for en, zh in _catalogs(l10n_root) if en and has_cjk(zh) and "%" not in en and "$" not in en]
