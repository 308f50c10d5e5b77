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


_COMMANDS = []


def commands():
    """The folder of the console scripts the tests run: the launcher's (tests/launcher.py: forked from a process
    that has imported torch and fairseq once), started on first use, or this venv's bin (KDSEQ_TEST_FORK=0)."""
    if not _COMMANDS:
        from tests import launcher

        _COMMANDS.append(launcher.start() or BIN)
    return _COMMANDS[0]


def command_path(env=None):
    """A PATH that finds the console scripts in ``commands()`` first (for scripts/*.sh)."""
    return os.pathsep.join([commands(), BIN, (env or os.environ)["PATH"]])


def cli(name, *args, check=True, cwd=None, env=None, timeout=600):
    """Run a console script of this venv; returns the CompletedProcess (stdout and stderr as text)."""
    res = subprocess.run([os.path.join(commands(), name), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                         env=env, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{name} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def built_once(tmp_path_factory, name, build):
    """A folder that ``build(folder)`` fills once per test run: under pytest-xdist the workers share it (the first
    builds it under a file lock, the others wait and reuse it), so the toy teacher is trained once, not per worker."""
    from filelock import FileLock

    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent  # shared by the workers of this run
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (root / f"{name}.done").exists():
            folder.mkdir(exist_ok=True)
            build(folder)
            (root / f"{name}.done").touch()
    return folder


def _write_toy_corpus(d):
    pairs = list(dict.fromkeys(make_pairs(3600, seed=1)))
    train = pairs[:3000]
    train_src = {s for s, _ in train}
    held = [p for p in pairs[3000:] if p[0] not in train_src]
    write_tsv(d / "train.tsv", train)
    write_tsv(d / "valid.tsv", held[:60])
    write_tsv(d / "test.tsv", held[60:160])


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory):
    """TSV train/valid/test of the toy pair, disjoint sources."""
    d = built_once(tmp_path_factory, "toy", _write_toy_corpus)
    return {"train": str(d / "train.tsv"), "valid": str(d / "valid.tsv"), "test": str(d / "test.tsv"), "dir": d}


@pytest.fixture(scope="session")
def toy_prepared(toy_corpus, tmp_path_factory):
    def build(d):
        cli("kdseq-prepare", "--train", toy_corpus["train"], "--valid", toy_corpus["valid"], "--test",
            toy_corpus["test"], "--src-lang", "en", "--tgt-lang", "de", "--out-dir", d / "en-de", "--vocab-size", "60")

    return built_once(tmp_path_factory, "prepared", build) / "en-de"


def env_without_torch_override():
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    return env


def one_core(env):
    """``env`` with torch on one thread: the toy teacher is the same model (its floats depend on the thread count)
    whether the suite runs in one process or two, and its training does not crowd the other worker's core."""
    return dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


@pytest.fixture(scope="session")
def toy_teacher(toy_prepared, tmp_path_factory):
    """A tiny transformer trained through the real fairseq-train with the relative --user-dir the README shows."""
    def build(save):
        cli("fairseq-train", toy_prepared / "bin", "--user-dir", "kdseq", "--save-dir", save, *TINY,
            "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--max-update", "600",
            cwd=ROOT, env=one_core(env_without_torch_override()))

    return built_once(tmp_path_factory, "teacher", build) / "checkpoint_best.pt"


if "PYTEST_XDIST_WORKER" in os.environ:
    # two workers on two cores: each test's fairseq and CTranslate2 processes get one core, not both (threads
    # competing for the same cores run several times slower than one thread each)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


def teacher_and_batch(teacher_path):
    """What the criterion tests share: the toy teacher (eval mode) and its task, the first valid batch of 8
    sentences, and an untrained student of the teacher's shape (seed 3; TINY has dropout 0, so its training and eval
    modes compute the same). A module-scoped fixture of each test file calls it."""
    import torch
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(teacher_path)])
    task.load_dataset("valid")
    itr = task.get_batch_iterator(dataset=task.dataset("valid"), max_sentences=8, seed=1).next_epoch_itr(
        shuffle=False)
    torch.manual_seed(3)
    student = task.build_model(cfg.model)
    return {"teacher_model": models[0].eval(), "task": task, "sample": next(itr), "student": student, "cfg": cfg}


def translation_kd(task):
    """``task`` (a loaded translation task) as ``--task translation_kd``: the task that gives the criterion the update
    number (annealing, on-policy schedules)."""
    from kdseq.tasks.translation_kd import TranslationKDTask

    kd = TranslationKDTask(task.cfg, task.src_dict, task.tgt_dict)
    kd.datasets = task.datasets
    return kd


def word_kd_criterion(task, teacher, **fields):
    """``--criterion word_kd`` on ``task`` with ``teacher`` (label smoothing 0.1, token-averaged); ``fields`` are
    WordKDConfig fields that override those."""
    from kdseq.criterions.word_kd import WordKDCriterion
    from kdseq.criterions.word_kd_config import word_kd_config

    args = dict(sentence_avg=False, label_smoothing=0.1, teacher_path=str(teacher))
    args.update(fields)
    return WordKDCriterion(word_kd_config(**args), task)


# the integration test files, longest first (seconds on the 2-core machine, with the launcher)
LONGEST_FIRST = ["test_workflow", "test_workflow_jobs", "test_regenerate", "test_distributed", "test_bad_inputs", "test_headline_kd",
                 "test_forward_and_filter",
                 "test_teacher_cache", "test_slurm", "test_train_evaluate", "test_launcher", "test_word_kd",
                 "test_on_policy"]


def pytest_collection_modifyitems(items):
    """The demo recipe end to end first (the longest file), then the unit tests (seconds), then the other
    integration files longest first: pytest-xdist (``--dist loadfile --no-loadscope-reorder``, scripts/test.sh) hands
    out files in this order as workers free up, so one worker runs the demo recipe while the other starts on the
    rest, and no long file starts last."""
    def rank(item):
        name = os.path.splitext(os.path.basename(item.nodeid.split("::")[0]))[0]
        if name == LONGEST_FIRST[0]:
            return 0, 0
        if "tests/unit/" in item.nodeid:
            return 1, 0
        return 2, LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: runs jobs on the local Slurm cluster (scripts/slurm-local.sh)")
