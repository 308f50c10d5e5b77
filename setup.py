from setuptools import find_packages, setup

setup(
    name="kdseq",
    version="0.1.0",
    description="Knowledge distillation for fairseq sequence-to-sequence models (fairseq user-dir plugins)",
    packages=find_packages(include=["kdseq", "kdseq.*"]),
    python_requires=">=3.9",
    # fairseq is installed by scripts/setup-env.sh (fairseq-fixed, built --no-deps against the local torch);
    # listing it here would let pip replace torch with a CUDA build.
    install_requires=["sacrebleu>=2.3", "sentencepiece", "rouge-score", "numpy"],
    entry_points={
        "console_scripts": [
            "kdseq-prepare=kdseq.cli.prepare:cli_main",
            "kdseq-evaluate=kdseq.cli.evaluate:cli_main",
            "kdseq-report=kdseq.cli.report:cli_main",
            "kdseq-cache-teacher=kdseq.cli.cache_teacher:cli_main",
            "kdseq-regenerate=kdseq.cli.regenerate:cli_main",
            "kdseq-extract-libreoffice=kdseq.cli.extract_libreoffice:cli_main",
            "kdseq-extract-headlines=kdseq.cli.extract_headlines:cli_main",
            "kdseq-flags=kdseq.cli.flags:cli_main",
            "kdseq-check=kdseq.cli.check:cli_main",
            "kdseq-combine=kdseq.cli.combine:cli_main",
            "kdseq-prepare-mono=kdseq.cli.prepare_mono:cli_main",
            "kdseq-filter=kdseq.cli.filter:cli_main",
        ]
    },
)
