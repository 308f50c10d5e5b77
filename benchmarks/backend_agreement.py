"""How closely kdseq-regenerate's backends agree: the same teacher decodes one split with fairseq (float32) and
CTranslate2 (float32 and int8), beam 5, filters off; prints BLEU of each against the references, BLEU of each
CTranslate2 output against fairseq's, and the share of identical lines.

    python benchmarks/backend_agreement.py                 # the demo's teacher on the test split (smath)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import sacrebleu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "work/libreoffice-en-de/data/bin"))
    p.add_argument("--teacher", default=os.path.join(ROOT, "work/models/teacher/checkpoint_best.pt"))
    p.add_argument("--split", default="test")
    p.add_argument("--tgt-lang", default="de")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="kdseq-agreement-")
    env = dict(os.environ, KDSEQ_CT2_CACHE=os.path.join(work, "ct2"))
    outs = {}
    for name, extra in (("fairseq float32", ["--backend", "fairseq"]),
                        ("ctranslate2 float32", ["--backend", "ctranslate2"]),
                        ("ctranslate2 int8", ["--backend", "ctranslate2", "--compute-type", "int8"])):
        out = os.path.join(work, name.replace(" ", "-"))
        subprocess.run([os.path.join(BIN, "kdseq-regenerate"), a.data, "--teacher-path", a.teacher, "--out-dir", out,
                        "--split", a.split, "--beam", "5", "--max-len-ratio", "0", "--max-repeats", "0",
                        "--no-progress", *extra], check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(os.path.join(out, "best", "raw", f"{a.split}.{a.tgt_lang}"), encoding="utf-8") as f:
            outs[name] = f.read().splitlines()
    ref_file = os.path.join(a.data, "..", "raw", f"{a.split}.{a.tgt_lang}")
    with open(ref_file, encoding="utf-8") as f:
        refs = f.read().splitlines()
    base = outs["fairseq float32"]
    print(f"{len(refs)} sentences of {a.split}, beam 5\n")
    print("| backend | BLEU vs references | BLEU vs fairseq | identical lines |")
    print("|---|---|---|---|")
    for name, hyps in outs.items():
        vs_ref = sacrebleu.corpus_bleu(hyps, [refs]).score
        vs_fs = sacrebleu.corpus_bleu(hyps, [base]).score
        same = sum(h == b for h, b in zip(hyps, base)) / len(base)
        print(f"| {name} | {vs_ref:.2f} | {vs_fs:.2f} | {100 * same:.1f}% |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
