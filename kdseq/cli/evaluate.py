"""kdseq-evaluate: decode a test split greedy and with beam search, score it, time it, print a table."""
import argparse

from kdseq.cli import user_errors
from kdseq.decoding.search import Search
from kdseq.errors import KdseqError
from kdseq.evaluate import Batching, Decoder, EvalConfig, PipelineSpec, evaluate
from kdseq.report import markdown_table


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-evaluate", description=__doc__)
    p.add_argument("data", help="fairseq binarized data folder (kdseq-prepare's <out>/bin)")
    p.add_argument("--path", required=True, help="checkpoint, or several joined by ':' (an ensemble)")
    p.add_argument("--split", default="test")
    p.add_argument("--beams", default="1,5", help="comma-separated beam sizes (1 = greedy)")
    p.add_argument("--lenpen", type=float, default=1.0)
    p.add_argument("--no-repeat-ngram-size", type=int, default=0, metavar="N",
                   help="forbid any N-gram of pieces twice in an output: loop control at decoding (0: none; "
                        "N >= 2)")
    p.add_argument("--max-len-a", type=float, default=1.2, help="longest output: a * source length + b tokens")
    p.add_argument("--max-len-b", type=int, default=10, help="(headlines: --max-len-a 0 --max-len-b 40)")
    p.add_argument("--reference", help="detokenized reference text (default: <data>/../raw/<split>.<tgt>)")
    p.add_argument("--name", help="model name in the table (default: the checkpoint's folder name)")
    p.add_argument("--output-dir", help="write <name>.<split>.beam<K>.{json,hyp} here")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--then", metavar="PATH", help="a second checkpoint that reads the first one's output (a "
                                                  "pipeline: e.g. translate, then write a headline); scored on its "
                                                  "output, timed and counted for both")
    p.add_argument("--first-max-len-a", type=float, default=1.2, help="with --then: the first model's longest output "
                                                                       "(--max-len-a/b limit the second's)")
    p.add_argument("--first-max-len-b", type=int, default=10)
    p.add_argument("--then-data", help="the second model's data folder (dictionaries; default: as recorded in it)")
    p.add_argument("--cpu", action="store_true", help="decode on CPU even if CUDA is present")
    p.add_argument("--fp16", action="store_true", help="half precision (GPU, fairseq backend)")
    p.add_argument("--backend", choices=["fairseq", "ctranslate2"], default="fairseq",
                   help="fairseq's SequenceGenerator, or the checkpoint converted to CTranslate2 (cached) as a "
                        "student would be deployed")
    p.add_argument("--compute-type", default="auto",
                   help="CTranslate2: auto (float32 on CPU, float16 on GPU), float32, int8, int8_float32, "
                        "float16, ...")
    p.add_argument("--threads", type=int, default=0, help="CTranslate2 on CPU: translators side by side, one core "
                                                           "each (0: all cores)")
    p.add_argument("--latency-sentences", type=int, default=100, metavar="N",
                   help="also decode the first N sentences one at a time in a fresh process that loads only the "
                        "model: latency at batch 1 (median, 90th percentile) and the process's peak memory "
                        "(kdseq/deployment.py); 0: not measured")
    return p


def build_config(a):
    """The :class:`EvalConfig` of parsed flags (each part checks its values)."""
    try:
        beams = tuple(int(b) for b in a.beams.split(","))
    except ValueError:
        raise KdseqError(f"--beams {a.beams!r}: give comma-separated integers, e.g. 1,5") from None
    pipeline = PipelineSpec(a.then, a.then_data, (a.first_max_len_a, a.first_max_len_b)) if a.then else None
    return EvalConfig(a.path, a.data, a.split, beams, a.reference, a.name, a.output_dir,
                      search=Search(1, 1, a.lenpen, a.max_len_a, a.max_len_b, a.no_repeat_ngram_size),
                      batching=Batching(a.max_tokens, a.batch_size),
                      decoder=Decoder(a.backend, "cpu" if a.cpu else None, a.fp16, a.compute_type, a.threads),
                      pipeline=pipeline, latency_sentences=a.latency_sentences)


@user_errors("kdseq-evaluate")
def main(argv=None):
    print(markdown_table(evaluate(build_config(get_parser().parse_args(argv)))))


def cli_main():
    raise SystemExit(main())
