"""kdseq-regenerate: the teacher translates the source side of a binarized split by beam search (sequence-level
distillation, Kim & Rush 2016) and the distilled corpus is written in corpus order, binarized with the teacher's
dictionaries, ready for fairseq-train.

  kdseq-regenerate DATA_BIN --teacher-path T.pt --out-dir OUT                    # seq-KD: OUT/best/bin
  kdseq-regenerate DATA_BIN --teacher-path T.pt --out-dir OUT --nbest 5 --select best,bleu  # + seq-inter
  kdseq-regenerate ... --num-shards 4 --shard-id 2     # on each of 4 machines (one folder, or copy chunks/)
  kdseq-regenerate DATA_BIN --out-dir OUT --merge      # then once: restore the order and binarize (no teacher,
                                                       # no GPU, no decode flags: state.json has them)
  kdseq-regenerate DATA_BIN --teacher-source TEACHER_BIN ...  # the teacher reads another aligned source

A killed run, rerun with the same command, continues from the last finished chunk.
"""
import argparse
import json

from kdseq.cli import user_errors
from kdseq.seqkd.config import Inputs, Outputs, RegenerateConfig, Runtime, Search, Work
from kdseq.seqkd.run import regenerate


def get_parser():
    p = argparse.ArgumentParser(prog="kdseq-regenerate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="binarized data folder whose SPLIT the teacher translates (e.g. <prepared>/bin)")
    p.add_argument("--teacher-path", help="teacher checkpoint, or an ensemble joined by ':' (--merge needs none; "
                                          "given, it must be the one the shards decoded with)")
    p.add_argument("--teacher-data", help="the teacher's data folder, if it moved since training (dictionaries)")
    p.add_argument("--out-dir", required=True, help="work and output folder (layout: kdseq/seqkd/__init__.py)")
    p.add_argument("--teacher-source", help="a binarized folder with the same split, aligned line by line, whose "
                                            "sources the teacher reads instead of DATA's (e.g. the English "
                                            "headline of each article); the output pairs DATA's source with the "
                                            "teacher's output. A:B: B is another teacher's source (aligned the "
                                            "same way), written for the kept pairs as <select>/bin-teacher2 (word-"
                                            "level KD from both teachers, each reading its own source)")
    p.add_argument("--split", default="train")
    g = p.add_argument_group("decoding")
    g.add_argument("--backend", choices=["auto", "ctranslate2", "fairseq"], default="auto",
                   help="auto: CTranslate2 where it can decode the teacher (one checkpoint of a supported "
                        "architecture), fairseq otherwise")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    g.add_argument("--compute-type", default="auto",
                   help="auto (float16 on GPU, float32 on CPU), float32, float16, int8, int8_float16, ... "
                        "(CTranslate2; fairseq: float32 or float16)")
    g.add_argument("--beam", type=int, default=5)
    g.add_argument("--nbest", type=int, default=1, help="hypotheses kept per sentence (seq-inter picks among them)")
    g.add_argument("--lenpen", type=float, default=1.0)
    g.add_argument("--max-len-a", type=float, default=1.2)
    g.add_argument("--max-len-b", type=int, default=10)
    g.add_argument("--no-repeat-ngram-size", type=int, default=0, metavar="N",
                   help="forbid any N-gram of pieces twice in a hypothesis: loop control at decoding (0: none; "
                        "N >= 2; recorded in state.json, so a resume must give the same)")
    g.add_argument("--max-tokens", type=int,
                   help="padded source tokens per batch (default: 2048 for CTranslate2 on CPU, where several "
                        "batches run side by side; 16384 on a GPU; 4096 otherwise)")
    g.add_argument("--max-sentences", type=int, help="sentences per batch (default: 1024 on a GPU, 256 otherwise)")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    g.add_argument("--ct2-cache", help="where converted teachers are kept (default $KDSEQ_CT2_CACHE or "
                                       "~/.cache/kdseq/ct2)")
    g = p.add_argument_group("work: chunks, shards, resuming")
    g.add_argument("--chunk-size", type=int, default=2000,
                   help="sentences per chunk: the unit of resuming and sharding")
    g.add_argument("--num-shards", type=int, default=1)
    g.add_argument("--shard-id", type=int, default=0)
    g.add_argument("--merge", action="store_true",
                   help="decode nothing: put every shard's chunks together and write the outputs; the decode "
                        "settings (backend, compute type, beam, chunk size...) are read from state.json")
    g.add_argument("--max-chunks", type=int, help="decode at most this many chunks in this run, then stop")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--on-change", choices=["refuse", "restart"], default="refuse",
                   help="a folder started with other settings (state.json): refuse it (default), or start it "
                        "over, its chunks removed (the workflow: a changed setting rebuilds)")
    g = p.add_argument_group("outputs")
    g.add_argument("--select", default="best",
                   help="comma-separated: best (seq-KD), bleu or chrf (seq-inter: the n-best hypothesis "
                        "closest to the reference); one output folder each")
    g.add_argument("--max-len-ratio", type=float, default=3.0,
                   help="drop a hypothesis more than this many times longer or shorter than its source "
                        "(pieces; 0: keep all)")
    g.add_argument("--headline-ratio", type=float, default=0.0,
                   help="headlines: drop a hypothesis longer than this fraction of the text the teacher read "
                        "(pieces; e.g. 0.5; give --max-len-ratio 0 with it: a headline is much shorter than its "
                        "text). 0: off")
    g.add_argument("--max-repeats", type=int, default=4,
                   help="drop a hypothesis with an n-gram (n<=4) repeated back to back this many times, more "
                        "than in its source (0: keep all)")
    g.add_argument("--keep-original", action="store_true",
                   help="write the original pairs next to the distilled ones (an identical pair once)")
    return p


def build_config(a):
    """The :class:`RegenerateConfig` of parsed flags (each part checks its values)."""
    return RegenerateConfig(
        inputs=Inputs(a.data, a.out_dir, a.teacher_path, a.split, a.teacher_data,
                      *Inputs.teacher_sources(a.teacher_source)),
        search=Search(a.beam, a.nbest, a.lenpen, a.max_len_a, a.max_len_b, a.no_repeat_ngram_size),
        runtime=Runtime(a.backend, a.device, a.compute_type, a.max_tokens, a.max_sentences, a.threads, a.ct2_cache),
        work=Work(a.chunk_size, a.num_shards, a.shard_id, a.merge, a.max_chunks, not a.no_progress,
                  a.on_change == "restart"),
        outputs=Outputs(tuple(s.strip() for s in a.select.split(",") if s.strip()), a.max_len_ratio, a.max_repeats,
                        a.keep_original, a.headline_ratio))


@user_errors("kdseq-regenerate")
def main(argv=None):
    a = get_parser().parse_args(argv)
    print(json.dumps(regenerate(build_config(a)), sort_keys=True))


def cli_main():
    raise SystemExit(main())
