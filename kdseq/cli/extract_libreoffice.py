"""kdseq-extract-libreoffice: aligned train/valid/test TSV from the LibreOffice help of two languages, whole
modules held out (see kdseq/data/libreoffice.py); or, with --ui-english, LibreOffice's English UI strings and tips
as plain text, source-side text for the teacher to translate (kdseq-prepare-mono)."""
import argparse
import json
import os

from kdseq.cli import user_errors
from kdseq.data.libreoffice import extract
from kdseq.errors import KdseqError
from kdseq.fileio import check_output_dir, staged_dir


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-extract-libreoffice", description=__doc__)
    p.add_argument("--help-root", help="folder holding <lang>/text/... (usr/share/libreoffice/help)")
    p.add_argument("--src-lang", default="en-US")
    p.add_argument("--tgt-lang", help="help language folder, e.g. de or zh-CN")
    p.add_argument("--valid-modules", default="schart", help="comma-separated modules held out for valid")
    p.add_argument("--test-modules", default="smath", help="comma-separated modules held out for test")
    p.add_argument("--cjk-target", action="store_true", help="keep only targets with CJK characters")
    p.add_argument("--ui-english", metavar="L10N_ROOT",
                   help="instead: the English msgids of the gettext catalogues in L10N_ROOT (e.g. usr/lib/libreoffice/"
                        "program/resource/de/LC_MESSAGES of libreoffice-l10n-de; their translations are not read), "
                        "of --min-words words or more, once each -> OUT/ui.en")
    p.add_argument("--min-words", type=int, default=3, help="with --ui-english: the shortest string kept, in words")
    p.add_argument("--out-dir", required=True, help="TSV folder (train/valid/test.tsv, extract.json); with "
                                                    "--ui-english: ui.en and ui.json")
    return p


def extract_ui(l10n_root, min_words, out_dir):
    from kdseq.data.sources.help import ui_english

    if not os.path.isdir(l10n_root):
        raise KdseqError(f"--ui-english {l10n_root}: no such folder (unpack libreoffice-l10n-<lang> and give its "
                         "usr/lib/libreoffice/program/resource/<lang>/LC_MESSAGES)")
    lines = ui_english(l10n_root, min_words)
    if not lines:
        raise KdseqError(f"--ui-english {l10n_root}: no .mo catalogue with a string of {min_words}+ words there")
    check_output_dir(out_dir, "ui.json")
    counts = {"lines": len(lines), "words": sum(len(x.split()) for x in lines), "min_words": min_words,
              "catalogues": os.path.realpath(l10n_root)}
    with staged_dir(out_dir) as tmp:
        with open(os.path.join(tmp, "ui.en"), "w", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in lines))
        with open(os.path.join(tmp, "ui.json"), "w") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
    return counts


@user_errors("kdseq-extract-libreoffice")
def main(argv=None):
    a = get_parser().parse_args(argv)
    if a.ui_english:
        counts = extract_ui(a.ui_english, a.min_words, a.out_dir)
    else:
        if not (a.help_root and a.tgt_lang):
            raise KdseqError("give --help-root and --tgt-lang (aligned help pages), or --ui-english (UI strings)")
        counts = extract(a.help_root, a.src_lang, a.tgt_lang, set(a.valid_modules.split(",")),
                         set(a.test_modules.split(",")), a.out_dir, cjk_target=a.cjk_target)
    print(json.dumps(counts, sort_keys=True))


def cli_main():
    raise SystemExit(main())
