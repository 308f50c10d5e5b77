"""Debian package descriptions from apt's list files: the English synopsis and long description of every
package, the zh_CN synopsis where one is translated, and each package's source package."""
import glob
import os
import subprocess

from kdseq.text import has_cjk
from kdseq.data.sources.text import clean, join_text, words
from kdseq.errors import KdseqError


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
    return clean(join_text([ln for ln in lines if ln.strip() != "."]))


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
                syn, long = clean(r["Description-en"][0]), long_description(r["Description-en"][1:])
                if syn and words(long) >= min_words:
                    en[r["Package"][0]] = {"package": r["Package"][0], "md5": r.get("Description-md5", [""])[0],
                                           "en_synopsis": syn, "en_long": long}
    for path in sorted(glob.glob(os.path.join(lists_dir, "*Translation-zh*CN*"))):
        for r in deb822(read_apt_file(path)):
            if "Package" in r and "Description-zh_CN" in r:
                zh[(r["Package"][0], r.get("Description-md5", [""])[0])] = clean(r["Description-zh_CN"][0])
    for path in sorted(glob.glob(os.path.join(lists_dir, "*_Packages*"))):
        for r in deb822(read_apt_file(path)):
            if "Package" in r:
                source[r["Package"][0]] = r.get("Source", r["Package"])[0].split(" ")[0]
    for (pkg, md5), syn in zh.items():
        if pkg in en and en[pkg]["md5"] == md5 and has_cjk(syn):
            en[pkg]["zh_synopsis"] = syn
    return en, source
