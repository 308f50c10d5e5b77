"""One record of what an output was made from, so that a rerun is a no-op, or refused when its inputs or settings
differ (``--force`` rebuilds). kdseq-prepare keeps it in ``prepare.json``, kdseq-extract-headlines in
``extract.json``, kdseq-combine in ``combine.json``. (The workflow's own reruns are Snakemake's: workflow/.)

A record is ``{"settings": {name: value}, "inputs": {role: {path, bytes, sha256}}}`` plus what the stage adds."""
import json
import os

from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write, file_sha256, real


def describe_file(path, named):
    """{path, bytes, sha256} of one input file (the real path: links resolved); ``named``: how an error names it
    (e.g. '--train corpus.tsv')."""
    if not os.path.isfile(path):
        raise KdseqError(f"{named}: no such file")
    return {"path": real(path), "bytes": os.path.getsize(path), "sha256": file_sha256(path)}


def differences(old, new, flags=False):
    """What differs between two records of settings (``flags``: named as the command's flags) or inputs."""
    diffs = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        name = "--" + k.replace("_", "-") if flags else k
        if isinstance(a, dict) and isinstance(b, dict):
            diffs.append(f"{name} ({', '.join(x for x in sorted(set(a) | set(b)) if a.get(x) != b.get(x))} "
                         "changed)")
        else:
            diffs.append(f"{name}: was {a!r}, now {b!r}")
    return diffs


def read_record(path):
    """The record at ``path``, or None if there is none; a damaged one is named."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            rec = json.load(f)
    except (OSError, ValueError) as e:
        raise KdseqError(f"{path}: unreadable record ({e}): delete the folder it describes, or choose another "
                         "output folder") from None
    if not isinstance(rec, dict):
        raise KdseqError(f"{path}: not a kdseq record: delete the folder it describes, or choose another one")
    return rec


def check_rerun(path, settings, inputs, force=False, flag="--out-dir", fix=None, flags=True):
    """Whether the output recorded at ``path`` is already made from exactly these settings and inputs: True
    (nothing to do), False (absent, or ``force``: build it). Other settings or inputs are refused, naming up to
    three differences (``flags``: settings named as flags) and ``fix`` (default: --force, or another ``flag``);
    ``flag`` None: the folder is named alone."""
    old = read_record(path)
    if old is None or force:
        return False
    diffs = differences(old.get("settings", {}), settings, flags=flags) + differences(old.get("inputs", {}), inputs)
    if not diffs:
        return True
    folder = os.path.dirname(path)
    fix = fix or f"pass --force to rebuild it, or choose another {flag}"
    named = f"{flag} {folder}" if flag else folder
    raise KdseqError(f"{named} was made from other inputs or settings ({'; '.join(diffs[:3])}"
                     f"{'; ...' if len(diffs) > 3 else ''}): {fix}")


def write_record(path, record):
    atomic_write(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
