"""Align the LibreOffice help pages of two languages into translation pairs (data-prep/README.md has the counts).

The help is shipped as one HTML tree per language (Debian packages libreoffice-help-<lang>). A segment is
a ``p``, ``h1``-``h6``, ``td`` or ``li`` element with an ``id`` (``par_id...``, ``hd_id...``); the same relative
page path and the same id in two languages is a translation pair. Text inside ``<span class="MAC">``
(the hidden macOS variant of a key name) is skipped. Nested segments keep their own text only.
"""
import collections
import html.parser
import json
import os
import re

from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, staged_dir
from kdseq.text import has_cjk

SEGMENT_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "td", "li"}
SKIP_TAGS = {"script", "style", "head", "title"}
VOID_TAGS = {"br", "img", "meta", "link", "input", "hr", "col", "area", "base", "embed", "source", "wbr"}
_SPACE = re.compile(r"\s+")


class _SegmentParser(html.parser.HTMLParser):
    """Collects (tag, id, text) for every segment element of one page, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # open elements: [tag, seg_id or None, text parts or None, hidden]
        self.segments = []

    def _hidden(self):
        return any(e[3] for e in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        attrs = dict(attrs)
        hidden = tag in SKIP_TAGS or (tag == "span" and attrs.get("class") == "MAC")
        seg_id = attrs.get("id") if tag in SEGMENT_TAGS else None
        self.stack.append([tag, seg_id, [] if seg_id else None, hidden])

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        # Close up to the matching element (tolerates unclosed children).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                while len(self.stack) > i:
                    self._close(self.stack.pop())
                return

    def _close(self, elem):
        tag, seg_id, parts, _ = elem
        if seg_id:
            text = _SPACE.sub(" ", "".join(parts)).strip()
            if text:
                self.segments.append((tag, seg_id, text))

    def handle_data(self, data):
        if self._hidden():
            return
        for elem in reversed(self.stack):
            if elem[2] is not None:
                elem[2].append(data)
                return

    def close(self):
        super().close()
        while self.stack:
            self._close(self.stack.pop())


def parse_page(path):
    """Segments of one help page: a list of (tag, id, text) in document order."""
    with open(path, encoding="utf-8") as f:
        parser = _SegmentParser()
        parser.feed(f.read())
        parser.close()
    return parser.segments


def iter_pages(lang_root):
    """Relative paths of every html page under ``<help>/<lang>/text``."""
    text_root = os.path.join(lang_root, "text")
    for dirpath, _, files in os.walk(text_root):
        for name in sorted(files):
            if name.endswith(".html"):
                yield os.path.relpath(os.path.join(dirpath, name), text_root)


def align(help_root, src_lang, tgt_lang):
    """Yield dicts (module, page, id, tag, src, tgt) for every segment present in both languages."""
    src_root = os.path.join(help_root, src_lang)
    tgt_root = os.path.join(help_root, tgt_lang)
    for rel in sorted(iter_pages(src_root)):
        tgt_page = os.path.join(tgt_root, "text", rel)
        if not os.path.exists(tgt_page):
            continue
        tgt = {}
        for tag, seg_id, text in parse_page(tgt_page):
            tgt.setdefault(seg_id, text)
        seen = set()
        for tag, seg_id, text in parse_page(os.path.join(src_root, "text", rel)):
            if seg_id in seen or seg_id not in tgt:
                continue
            seen.add(seg_id)
            yield {"module": rel.split(os.sep)[0], "page": rel, "id": seg_id, "tag": tag,
                   "src": text, "tgt": tgt[seg_id]}


def extract(help_root, src_lang, tgt_lang, valid_modules, test_modules, out_dir, cjk_target=False):
    """Write train/valid/test TSV files; whole modules are held out. Returns the counts as a dict."""
    counts = collections.Counter()
    splits = {"train": {}, "valid": {}, "test": {}}
    for seg in align(help_root, src_lang, tgt_lang):
        counts["aligned"] += 1
        src, tgt = seg["src"], seg["tgt"]
        if "\t" in src or "\t" in tgt:
            src, tgt = src.replace("\t", " "), tgt.replace("\t", " ")
        if tgt == src:
            counts["dropped_untranslated"] += 1
            continue
        if cjk_target and not has_cjk(tgt):
            counts["dropped_no_cjk"] += 1
            continue
        split = "test" if seg["module"] in test_modules else "valid" if seg["module"] in valid_modules else "train"
        if (src, tgt) in splits[split]:
            counts["dropped_duplicate"] += 1
            continue
        splits[split][(src, tgt)] = None
    if not any(splits.values()):
        raise KdseqError(f"no aligned segments found under {help_root} for {src_lang}->{tgt_lang}: "
                         "is the help unpacked for both languages?")
    check_output_dir(out_dir, "extract.json")
    with staged_dir(out_dir) as tmp:
        for split, pairs in splits.items():
            counts[f"{split}_pairs"] = len(pairs)
            with open(os.path.join(tmp, f"{split}.tsv"), "w", encoding="utf-8") as f:
                for src, tgt in pairs:
                    f.write(f"{src}\t{tgt}\n")
        with open(os.path.join(tmp, "extract.json"), "w") as f:
            json.dump(dict(counts), f, indent=1, sort_keys=True)
    return dict(counts)
