"""Teacher decoding throughput for sequence-level KD: kdseq-regenerate versus plain fairseq-generate.

Same teacher, same sentences (the first --sentences of the train split), beam 5, 1 hypothesis, the same length
limit (1.2 * source + 10), both on every core of this machine, or both on its GPU in half precision (--device). Each number is the wall time of the whole command
(start-up, model loading, decoding, writing), as a user would run it; throughput is target tokens (EOS
included) per second of that wall time.

fairseq-generate is swept over --max-tokens to find its best batch setting; then the best setting and
kdseq-regenerate with its defaults (CTranslate2 float32 on CPU; on a GPU CTranslate2 float16 where it can run
there, else the fairseq backend in float16) are run alternately --repeats times and the median ratio is printed.
kdseq-regenerate's other configurations (int8, the fairseq backend, a cold conversion cache) are run once for
context where the default is CTranslate2.

    python benchmarks/regenerate_speed.py                      # the demo's teacher and data (run the demo first)
    python benchmarks/regenerate_speed.py --sentences 500 --repeats 1   # quicker
    python benchmarks/regenerate_speed.py --sentences 1000 --target-tokens 28-40   # long sentences
    python benchmarks/regenerate_speed.py --device cuda --max-tokens 8192,16384,32768    # on a GPU
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def exe(name):
    """A console script: beside this Python, else on PATH (e.g. installed with pip --target)."""
    here = os.path.join(BIN, name)
    return here if os.path.exists(here) else shutil.which(name) or here


def make_subset(data, n, dest, lengths=None):
    """The first n train pairs of ``data`` (whose reference has MIN to MAX tokens, with ``lengths`` "MIN-MAX")
    as a binarized folder of its own (same dictionaries). Returns (sentences, mean reference tokens)."""
    from kdseq.decoding.corpus import Corpus
    from kdseq.seqkd.output import write_binarized

    c = Corpus(data, "train")
    lo, hi = (int(x) for x in lengths.split("-")) if lengths else (0, 1 << 30)
    ids = [i for i in range(len(c)) if lo <= len(c.ref_ids(i)) <= hi][:n]
    os.makedirs(dest, exist_ok=True)
    pair = f"{c.src_lang}-{c.tgt_lang}"
    write_binarized(os.path.join(dest, f"train.{pair}.{c.src_lang}"), [c.src_ids(i) for i in ids], c.src_dict)
    write_binarized(os.path.join(dest, f"train.{pair}.{c.tgt_lang}"), [c.ref_ids(i) for i in ids], c.tgt_dict)
    for lang in (c.src_lang, c.tgt_lang):
        shutil.copy(os.path.join(data, f"dict.{lang}.txt"), dest)
    return len(ids), sum(len(c.ref_ids(i)) for i in ids) / max(len(ids), 1)


def timed(cmd, env, stdout=subprocess.DEVNULL):
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return wall, res


def fairseq_generate(data, teacher, max_tokens, out_file, env, device):
    cmd = [exe("fairseq-generate"), data, "--path", teacher, "--gen-subset", "train", "--beam", "5",
           "--nbest", "1", "--max-len-a", "1.2", "--max-len-b", "10", "--max-tokens", str(max_tokens),
           "--cpu" if device == "cpu" else "--fp16",
           # without this fairseq-generate silently skips sentences (default 8; fairseq issue #5351)
           "--required-batch-size-multiple", "1"]
    with open(out_file, "w") as f:
        wall, _ = timed(cmd, env, stdout=f)
    hyps = [line for line in open(out_file, encoding="utf-8") if line.startswith("H-")]
    tokens = sum(len(line.rstrip("\n").split("\t")[2].split()) + 1 for line in hyps)
    return {"wall_s": wall, "tokens": tokens, "sentences_printed": len(hyps)}


def regenerate(data, teacher, out, env, device, *extra):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [exe("kdseq-regenerate"), data, "--teacher-path", teacher, "--out-dir", out,
           "--no-progress", "--beam", "5", "--device", device,
           "--max-len-ratio", "0", "--max-repeats", "0",  # no filters: every hypothesis written, as fairseq-generate
           *extra]
    wall, res = timed(cmd, env, stdout=subprocess.PIPE)
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "tokens": summary["decoded_target_tokens"], "summary": summary}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "work/libreoffice-en-de/data/bin"))
    p.add_argument("--teacher", default=os.path.join(ROOT, "work/models/teacher/checkpoint_best.pt"))
    p.add_argument("--sentences", type=int, default=2000)
    p.add_argument("--target-tokens", metavar="MIN-MAX",
                   help="only sentences whose reference has MIN to MAX tokens (e.g. 28-40: long sentences, about "
                        "33 tokens each)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-tokens", default="2048,4096,8192,16384", help="fairseq-generate settings to sweep")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="both commands on the CPU, or both on the GPU in half precision (auto: the GPU if torch sees one)")
    p.add_argument("--json", help="also write the measurements here")
    a = p.parse_args()
    for path in (a.data, a.teacher):
        if not os.path.exists(path):
            raise SystemExit(f"{path} does not exist: run `bash scripts/demo.sh` first (or pass --data/--teacher)")
    if a.device == "auto":
        import torch

        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    work = tempfile.mkdtemp(prefix="kdseq-bench-regen-")
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", KDSEQ_CT2_CACHE=os.path.join(work, "ct2"))
    sub = os.path.join(work, "data")
    n, mean_ref = make_subset(a.data, a.sentences, sub, a.target_tokens)
    where = f"{os.cpu_count()} cores" if a.device == "cpu" else "GPU " + gpu_name()
    print(f"{n} sentences ({mean_ref:.1f} reference tokens each), teacher {a.teacher}, beam 5, {where}; wall "
          "time of whole commands", flush=True)
    rows = []

    def show(name, r):
        r["tok_s"] = r["tokens"] / r["wall_s"]
        rows.append({"name": name, **{k: v for k, v in r.items() if k != "summary"}})
        print(f"  {name:48s} {r['wall_s']:7.1f} s  {r['tokens']:7d} tokens  {r['tok_s']:8.1f} tok/s", flush=True)

    def label(r):
        sm = r["summary"]
        return f"kdseq-regenerate {sm['backend']} {sm['compute_type']}"

    cold = regenerate(sub, a.teacher, os.path.join(work, "cold"), env, a.device)
    default = label(cold)
    ct2 = cold["summary"]["backend"] == "ctranslate2"
    show(default + (", cold cache" if ct2 else ", first run"), cold)
    sweep = {}
    for mt in [int(x) for x in a.max_tokens.split(",")]:
        r = fairseq_generate(sub, a.teacher, mt, os.path.join(work, f"gen{mt}.txt"), env, a.device)
        sweep[mt] = r
        show(f"fairseq-generate --max-tokens {mt}", r)
        if r["sentences_printed"] != n:
            print(f"    note: fairseq-generate printed {r['sentences_printed']} hypotheses for {n} sentences")
    best_mt = max(sweep, key=lambda k: sweep[k]["tokens"] / sweep[k]["wall_s"])
    if ct2:
        for extra in (["--compute-type", "int8"], ["--backend", "fairseq"]):
            r = regenerate(sub, a.teacher, os.path.join(work, "other"), env, a.device, *extra)
            show(label(r), r)

    ratios, last = [], None
    for i in range(a.repeats):
        g = fairseq_generate(sub, a.teacher, best_mt, os.path.join(work, "gen-best.txt"), env, a.device)
        show(f"fairseq-generate --max-tokens {best_mt} (repeat {i + 1})", g)
        k = regenerate(sub, a.teacher, os.path.join(work, "warm"), env, a.device)
        show(f"{default} (repeat {i + 1})", k)
        ratios.append(k["tok_s"] / g["tok_s"])
        last = k
    t = last["summary"]["timings"]
    startup = last["wall_s"] - t["total_s"]
    print(f"\nratio {default} / best fairseq-generate (target tok/s, end to end, {a.device}): median "
          f"{statistics.median(ratios):.2f} (runs: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"where kdseq-regenerate's {last['wall_s']:.1f} s go: interpreter and imports {startup:.1f} s, loading "
          f"data and teacher {t['load_s']:.1f} s, decoding {t['decode_s']:.1f} s, writing outputs "
          f"{t['merge_s']:.1f} s" + (f"; converting the teacher once (cold cache): "
                                    f"{cold['summary']['timings']['convert_s']:.1f} s" if ct2 else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"sentences": n, "mean_reference_tokens": mean_ref, "device": a.device, "where": where, "rows": rows, "ratios": ratios,
                       "best_max_tokens": best_mt, "default": default}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)


def gpu_name():
    import torch

    return torch.cuda.get_device_name()


if __name__ == "__main__":
    main()
