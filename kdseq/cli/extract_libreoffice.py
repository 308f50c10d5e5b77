"""kdseq-extract-libreoffice: aligned train/valid/test TSV from the LibreOffice help of two languages, whole
modules held out (see kdseq/data/libreoffice.py)."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.data.libreoffice import extract


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-extract-libreoffice", description=__doc__)
    p.add_argument("--help-root", required=True, help="folder holding <lang>/text/... (usr/share/libreoffice/help)")
    p.add_argument("--src-lang", default="en-US")
    p.add_argument("--tgt-lang", required=True, help="help language folder, e.g. de or zh-CN")
    p.add_argument("--valid-modules", default="schart", help="comma-separated modules held out for valid")
    p.add_argument("--test-modules", default="smath", help="comma-separated modules held out for test")
    p.add_argument("--cjk-target", action="store_true", help="keep only targets with CJK characters")
    p.add_argument("--out-dir", required=True, help="TSV folder (train/valid/test.tsv, extract.json)")
    return p


@user_errors("kdseq-extract-libreoffice")
def main(argv=None):
    a = get_parser().parse_args(argv)
    counts = extract(a.help_root, a.src_lang, a.tgt_lang, set(a.valid_modules.split(",")),
                     set(a.test_modules.split(",")), a.out_dir, cjk_target=a.cjk_target)
    print(json.dumps(counts, sort_keys=True))


def cli_main():
    raise SystemExit(main())
