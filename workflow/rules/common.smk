# Shared by both recipes: the config check, the work folder check, helpers that build commands, and the end-of-run
# report of failed jobs.
import glob
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import jsonschema
import yaml
from snakemake.utils import validate

ROOT = str(Path(workflow.basedir).parent)  # the checkout: scripts/ and data-prep/ (rules name them as {ROOT}/...)
STARTED = time.time()
LOG_DIRS = []  # where this recipe's job logs go (the end-of-run report reads them)


def stop(message):
    """A mistake in the config or the work folder: one line, no job started."""
    print(f"kdseq workflow: error: {message}", file=sys.stderr)
    sys.exit(1)


def check_config():
    """The config against its recipe's schema (workflow/schemas/): the first problem in one line, naming the key."""
    recipe = config.get("recipe")
    if recipe not in ("translation", "headlines"):
        stop(f"config recipe: {recipe!r}: give a config file (--configfile config/demo.yaml or config/headlines.yaml)")
    path = os.path.join(workflow.basedir, "schemas", f"{recipe}.schema.yaml")
    with open(path) as f:
        schema = yaml.safe_load(f)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        key = ".".join(map(str, e.path))
        stop(f"config{' ' + key if key else ''}: {e.message} (the keys and values: {os.path.relpath(path, ROOT)})")
    validate(config, path)  # Snakemake's own check of the same schema


def refuse_old_models(models):
    """A models folder made by the shell recipes of earlier versions (their kdseq-stage.json records): refused, not
    reused (those records say nothing the workflow can check) and never deleted."""
    old = sorted(glob.glob(os.path.join(models, "*", "kdseq-stage.json")))
    if old:
        stop(f"{os.path.abspath(models)} was made by an earlier kdseq recipe ({os.path.relpath(old[0], models)}): "
             "the workflow neither reuses nor deletes it; move it away, or give another work folder")


def updates(n, extra=""):
    """fairseq-train arguments for n updates, validated and saved at n/2 and n (n None: the preset's own)."""
    if n is None:
        return extra
    half = (n + 1) // 2
    return f"--max-update {n} --validate-interval-updates {half} --save-interval-updates {half} {extra}".strip()


def failed_job_logs():
    """(log, its last line) of each job log written during this run whose last line reports an error."""
    for d in LOG_DIRS:
        for path in sorted(glob.glob(os.path.join(d, "**", "*.log"), recursive=True)):
            if os.path.getmtime(path) < STARTED:
                continue
            with open(path, errors="replace") as f:
                lines = [line.strip() for line in f.read().splitlines()[-50:] if line.strip()]
            if lines and re.search(r"error|Error|Traceback|Killed|interrupted", lines[-1]):
                yield path, lines[-1]


onerror:
    for path, line in failed_job_logs():
        print(f"kdseq workflow: failed: {line}\n  (log: {os.path.abspath(path)})", file=sys.stderr)


check_config()
