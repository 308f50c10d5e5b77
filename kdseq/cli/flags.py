"""kdseq-flags: the flags kdseq adds to fairseq-train (``fairseq-train --criterion word_kd --help`` cannot show
them: fairseq adds a criterion's flags after it prints the help)."""
import argparse
import dataclasses

from kdseq.cli import user_errors


def criterion_flags():
    """[(flag, default, help)] of --criterion word_kd's own flags (the label-smoothing ones are fairseq's)."""
    from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterionConfig  # heavy

    from kdseq.criterions.word_kd_config import WordKDConfig  # imports fairseq

    inherited = {f.name for f in dataclasses.fields(LabelSmoothedCrossEntropyCriterionConfig)}
    out = []
    for f in dataclasses.fields(WordKDConfig):
        if f.name in inherited or "help" not in f.metadata:
            continue  # the II(...) fields are read from fairseq's own flags
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(("--" + f.name.replace("_", "-"), default, f.metadata["help"]))
    return out


def task_flags():
    """[(flag, default, help)] of kdseq's tasks' own flags (--task headline_kd's; translation_kd adds none)."""
    from fairseq.tasks.translation import TranslationConfig  # heavy

    from kdseq.tasks.headline_kd import HeadlineKDConfig  # imports fairseq

    inherited = {f.name for f in dataclasses.fields(TranslationConfig)}
    return [("--" + f.name.replace("_", "-"), f.default, f.metadata["help"])
            for f in dataclasses.fields(HeadlineKDConfig) if f.name not in inherited]


@user_errors("kdseq-flags")
def main(argv=None):
    argparse.ArgumentParser(prog="kdseq-flags", description=__doc__).parse_args(argv)
    print("fairseq-train --user-dir kdseq --task translation_kd --criterion word_kd [flags]:")
    print("  (--task translation_kd: batches name their subset and the criterion knows the update number;")
    print("   needed by --teacher-cache and --kd-anneal)")
    for flag, default, text in criterion_flags():
        print(f"  {flag} (default {default!r})\n      {text}")
    print("  and fairseq's --label-smoothing, --ignore-prefix-size, --report-accuracy, --sentence-avg")
    print("--task headline_kd (translation_kd whose batches carry the teacher's own source):")
    for flag, default, text in task_flags():
        print(f"  {flag} (default {default!r})\n      {text}")


def cli_main():
    raise SystemExit(main())
