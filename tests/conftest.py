"""Shared fixtures: a tiny, learnable parallel corpus written by the tests themselves.

The "language pair" maps 24 English words one-to-one onto German ones, in order: a tiny transformer learns it
in a minute on CPU, so integration tests can assert real decoding quality (and that corpus order survives).
"""
import os
import random
import subprocess
import sys

import pytest

LEXICON = {
    "one": "eins", "two": "zwei", "three": "drei", "four": "vier", "five": "fünf", "six": "sechs",
    "red": "rot", "green": "grün", "blue": "blau", "black": "schwarz", "white": "weiß", "yellow": "gelb",
    "house": "Haus", "tree": "Baum", "dog": "Hund", "cat": "Katze", "book": "Buch", "table": "Tisch",
    "big": "groß", "small": "klein", "old": "alt", "new": "neu", "and": "und", "the": "der",
}
BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--arch", "transformer", "--share-all-embeddings", "--encoder-layers", "1", "--decoder-layers", "1",
        "--encoder-embed-dim", "64", "--decoder-embed-dim", "64", "--encoder-ffn-embed-dim", "128",
        "--decoder-ffn-embed-dim", "128", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2",
        "--dropout", "0.0", "--optimizer", "adam", "--lr", "0.005", "--lr-scheduler", "inverse_sqrt",
        "--warmup-updates", "50", "--max-tokens", "2000", "--cpu", "--seed", "1", "--no-epoch-checkpoints",
        "--log-format", "simple", "--log-interval", "10", "--no-progress-bar"]


def make_pairs(n, seed, min_len=2, max_len=8):
    rng = random.Random(seed)
    words = sorted(LEXICON)
    pairs = []
    for _ in range(n):
        src = [rng.choice(words) for _ in range(rng.randint(min_len, max_len))]
        pairs.append((" ".join(src), " ".join(LEXICON[w] for w in src)))
    return pairs


def write_tsv(path, pairs):
    with open(path, "w", encoding="utf-8") as f:
        for s, t in pairs:
            f.write(f"{s}\t{t}\n")
    return str(path)


def cli(name, *args, check=True, cwd=None, env=None, timeout=600):
    """Run a console script of this venv; returns the CompletedProcess (stdout and stderr as text)."""
    res = subprocess.run([os.path.join(BIN, name), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                         env=env, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{name} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory):
    """TSV train/valid/test of the toy pair, disjoint sources."""
    d = tmp_path_factory.mktemp("toy")
    pairs = list(dict.fromkeys(make_pairs(3600, seed=1)))
    train_src = set()
    train = pairs[:3000]
    train_src = {s for s, _ in train}
    held = [p for p in pairs[3000:] if p[0] not in train_src]
    return {"train": write_tsv(d / "train.tsv", train), "valid": write_tsv(d / "valid.tsv", held[:60]),
            "test": write_tsv(d / "test.tsv", held[60:160]), "dir": d}


@pytest.fixture(scope="session")
def toy_prepared(toy_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "en-de"
    cli("kdseq-prepare", "--train", toy_corpus["train"], "--valid", toy_corpus["valid"], "--test",
        toy_corpus["test"], "--src-lang", "en", "--tgt-lang", "de", "--out-dir", out, "--vocab-size", "60")
    return out


def env_without_torch_override():
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    return env


@pytest.fixture(scope="session")
def toy_teacher(toy_prepared, tmp_path_factory):
    """A tiny transformer trained through the real fairseq-train with the relative --user-dir the README shows."""
    save = tmp_path_factory.mktemp("teacher")
    cli("fairseq-train", toy_prepared / "bin", "--user-dir", "kdseq", "--save-dir", save, *TINY,
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--max-update", "600",
        cwd=ROOT, env=env_without_torch_override())
    return save / "checkpoint_best.pt"
