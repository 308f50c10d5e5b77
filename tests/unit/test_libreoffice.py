"""Alignment of LibreOffice help pages on a hand-written two-language fixture."""
import os

from kdseq.data import libreoffice as lo

EN = """<html><head><title>T</title></head><body>
<h1 id="hd_id1">Unary Operators</h1>
<p id="par_id2" class="paragraph">Press <span class="MAC">Command</span><span class="defaultinline">Ctrl</span>+C.</p>
<table><tr><td id="td_id3"><p id="par_id4">Plus</p></td></tr></table>
<p id="par_id5">Same text</p>
<p id="par_id6">Only in English</p>
<p>no id: ignored</p>
</body></html>"""
DE = """<html><body>
<h1 id="hd_id1">Unäre Operatoren</h1>
<p id="par_id2" class="paragraph">Drücken Sie <span class="MAC">Befehl</span><span class="defaultinline">Strg</span>+C.</p>
<table><tr><td id="td_id3"><p id="par_id4">Plus-Zeichen</p></td></tr></table>
<p id="par_id5">Same text</p>
</body></html>"""


def write_help(root):
    for lang, text in (("en-US", EN), ("de", DE)):
        d = os.path.join(root, lang, "text", "smath", "01")
        os.makedirs(d)
        with open(os.path.join(d, "page.html"), "w", encoding="utf-8") as f:
            f.write(text)


def test_parse_page_skips_mac_and_keeps_nested_text_once(tmp_path):
    write_help(tmp_path)
    segs = lo.parse_page(tmp_path / "en-US" / "text" / "smath" / "01" / "page.html")
    assert [(t, i) for t, i, _ in segs] == [("h1", "hd_id1"), ("p", "par_id2"), ("p", "par_id4"),
                                           ("p", "par_id5"), ("p", "par_id6")]
    assert dict((i, s) for _, i, s in segs)["par_id2"] == "Press Ctrl+C."


def test_align_and_extract_hold_out_modules(tmp_path):
    write_help(tmp_path / "help")
    pairs = list(lo.align(str(tmp_path / "help"), "en-US", "de"))
    assert [(p["src"], p["tgt"]) for p in pairs] == [
        ("Unary Operators", "Unäre Operatoren"), ("Press Ctrl+C.", "Drücken Sie Strg+C."),
        ("Plus", "Plus-Zeichen"), ("Same text", "Same text")]
    counts = lo.extract(str(tmp_path / "help"), "en-US", "de", {"none"}, {"smath"}, str(tmp_path / "out"))
    assert counts["dropped_untranslated"] == 1 and counts["test_pairs"] == 3 and counts["train_pairs"] == 0
    assert (tmp_path / "out" / "test.tsv").read_text(encoding="utf-8").splitlines()[0] == \
        "Unary Operators\tUnäre Operatoren"
