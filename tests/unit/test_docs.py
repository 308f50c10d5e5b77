"""The documents stay true to the code: every relative link of README.md and docs/ resolves, and every flag the
README names is a flag of a command (its --help), of kdseq-flags (what kdseq adds to fairseq-train), of
fairseq-train itself or of Snakemake (the demos' arguments)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

DOCS = [Path(ROOT) / "README.md", *sorted((Path(ROOT) / "docs").glob("*.md")),
        *sorted(Path(ROOT).glob("*/README.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# the launchers' flags the README shows (torchrun's, Slurm's): checked against their own --help where installed
LAUNCHERS = {"torchrun": ["--nproc-per-node"], "srun": ["--ntasks"], "sbatch": ["--array", "--wrap"]}
COMMANDS = ["kdseq-prepare", "kdseq-evaluate", "kdseq-report", "kdseq-regenerate", "kdseq-cache-teacher",
            "kdseq-combine", "kdseq-flags", "kdseq-check", "kdseq-extract-libreoffice", "kdseq-extract-headlines",
            "kdseq-prepare-mono", "kdseq-filter"]


def relative_links(path):
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        yield target.split("#")[0]


def test_every_relative_link_resolves():
    broken = [f"{doc.relative_to(ROOT)}: {target}" for doc in DOCS for target in relative_links(doc)
              if not (doc.parent / target).exists()]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_broken_link(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("[plot](bleu-vs-speed.png) [web](https://example.org) [here](#flags) [a](../a.md#part)\n")
    assert list(relative_links(doc)) == ["bleu-vs-speed.png", "../a.md"]


@pytest.fixture(scope="module")
def known_flags():
    texts = [cli(name, "--help").stdout for name in COMMANDS]
    texts.append(cli("kdseq-flags").stdout)
    texts.append(cli("fairseq-train", "--user-dir", "kdseq", "--task", "headline_kd", "--help", cwd=ROOT).stdout)
    # the workflow's (scripts/demo.sh passes its arguments to Snakemake)
    texts.append(subprocess.run([os.path.join(os.path.dirname(sys.executable), "snakemake"), "--help"],
                                capture_output=True, text=True).stdout)
    return {flag for text in texts for flag in FLAG.findall(text)} | {f for flags in LAUNCHERS.values() for f in flags}


def test_every_flag_the_readme_names_exists(known_flags):
    named = set(FLAG.findall((Path(ROOT) / "README.md").read_text(encoding="utf-8")))
    assert {"--kd-alpha", "--teacher-source-data", "--no-repeat-ngram-size", "--select"} <= named  # it reads them
    unknown = sorted(named - known_flags)
    assert not unknown, f"README.md names flags no command has: {unknown}"
    assert "--kd-sample-temperature" in known_flags and "--no-such-flag" not in known_flags


@pytest.mark.parametrize("tool", sorted(LAUNCHERS))
def test_the_launcher_flags_exist(tool, tmp_path):
    import shutil

    path = shutil.which(tool, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    if path is None:
        pytest.skip(f"{tool} is not installed here")
    conf = tmp_path / "slurm.conf"  # Slurm's clients read a configuration even to print their help
    conf.write_text("ClusterName=x\nSlurmctldHost=localhost\nNodeName=localhost\nPartitionName=p Nodes=localhost\n")
    text = subprocess.run([path, "--help"], capture_output=True, text=True,
                          env=dict(os.environ, SLURM_CONF=str(conf))).stdout
    assert set(LAUNCHERS[tool]) <= set(FLAG.findall(text)), tool
