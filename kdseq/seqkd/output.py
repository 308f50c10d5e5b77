"""Merging: the chunks become ``<select>/{bin,text,raw}`` and ``regenerate.json`` (see kdseq/seqkd/__init__.py)."""
import json
import os
import shutil

from kdseq.data.binarized import write_indexed
from kdseq.errors import KdseqError
from kdseq.fileio import atomic_write, staged_dir
from kdseq.text import ids_to_text
from kdseq.seqkd.filters import degenerate_reason
from kdseq.seqkd.scoring import first_argmax, nbest_scores, sentence_scorer

TEACHER_SCORES = "teacher.txt"  # <select>/scores/: the teacher's score of each written pair, line by line


def scores_text(values):
    """A score file's text: one float a line, exactly (repr), ``nan`` for a pair without a score."""
    return "".join(f"{float(x)!r}\n" for x in values)


def write_binarized(path_prefix, seqs, dictionary):
    """``seqs`` (ids without EOS) as fairseq's mmap files, the bytes fairseq-preprocess would write."""
    write_indexed(path_prefix, seqs, len(dictionary), dictionary.eos())


def write_teacher_side(corpus, side, dest, teacher_out, tgt_out):
    """``dest`` = a teacher's source (``side``, a :class:`kdseq.decoding.corpus.Side`) of every written pair and the
    same targets, binarized like its folder (aligned line by line with <select>/bin), its other splits copied."""
    split, t_lang, tgt_lang = corpus.split, side.src_lang, corpus.tgt_lang
    os.makedirs(dest)
    pair = f"{t_lang}-{tgt_lang}"
    write_binarized(os.path.join(dest, f"{split}.{pair}.{t_lang}"), teacher_out, side.src_dict)
    write_binarized(os.path.join(dest, f"{split}.{pair}.{tgt_lang}"), tgt_out, corpus.tgt_dict)
    for name in sorted(os.listdir(side.data_dir)):
        if name.startswith("dict.") or (name.endswith((".bin", ".idx")) and not name.startswith(f"{split}.{pair}.")):
            shutil.copy(os.path.join(side.data_dir, name), dest)


def teacher_dict_file(out_dir, tgt_lang):
    """Where a regeneration folder keeps the teacher's target dictionary: a merge copies it into every output
    without loading the teacher (see :func:`keep_teacher_dict`)."""
    return os.path.join(out_dir, f"dict.{tgt_lang}.txt")


def keep_teacher_dict(out_dir, teacher_dict_dir, tgt_lang):
    """Copy the teacher's ``dict.<tgt>.txt`` into the regeneration folder (once; the same bytes on every shard)."""
    dest = teacher_dict_file(out_dir, tgt_lang)
    with open(os.path.join(teacher_dict_dir, f"dict.{tgt_lang}.txt"), encoding="utf-8", newline="") as f:
        text = f.read()
    if os.path.exists(dest):
        with open(dest, encoding="utf-8", newline="") as f:
            if f.read() == text:
                return
    atomic_write(dest, text)


def merge(corpus, rows, out_dir, select, outputs, meta, scores=None):
    """Write ``out_dir/<select>/`` (see the module docstring) atomically. Returns its counts. ``outputs``: the
    filters (:class:`kdseq.seqkd.config.Outputs`); ``meta``: what regenerate.json records of the decode;
    ``scores``: the :func:`nbest_scores` of ``rows`` for ``select`` (unless ``best``) and ``bleu``, computed here
    if not given. The teacher's target dictionary is read from :func:`teacher_dict_file`."""
    max_len_ratio, max_repeats, keep_original = outputs.max_len_ratio, outputs.max_repeats, outputs.keep_original
    headline_ratio = outputs.headline_ratio
    split, src_lang, tgt_lang = corpus.split, corpus.src_lang, corpus.tgt_lang
    tgt_sym, src_sym = corpus.tgt_dict.symbols, corpus.src_dict.symbols
    teacher_sym = corpus.teacher_src_dict.symbols
    if select != "best" and not corpus.has_refs:
        raise KdseqError(f"--select {select} needs references: {corpus.data_dir} has no {tgt_lang} side for "
                         f"{split}")
    if keep_original and not corpus.has_refs:
        raise KdseqError(f"--keep-original: {corpus.data_dir} has no {tgt_lang} side for {split}")
    if select != "best":
        sentence_scorer(select, tgt_lang)  # an unknown selector is refused before any work
    needed = sorted({select, "bleu"} - {"best"}) if corpus.has_refs else []
    if scores is None or any(m not in scores for m in needed):
        scores = nbest_scores(rows, corpus, needed)
    sel_scores = scores[select] if select != "best" else None
    bleu_scores = scores["bleu"] if corpus.has_refs else None
    dropped = {"empty": 0, "length_ratio": 0, "headline_ratio": 0, "repeats": 0}
    src_out, tgt_out, teacher_out, kept_rows, scores_out = [], [], [], [], []
    picked_rank = [0] * (max(len(r["hyps"]) for r in rows) if rows else 1)
    sbleu_sum, originals_added = 0.0, 0
    for j, r in enumerate(rows):
        i = r["id"]
        src_ids = corpus.src_ids(i)
        read_pieces = [teacher_sym[t] for t in corpus.teacher_ids(i)]
        ref_ids = corpus.ref_ids(i) if corpus.has_refs else None
        hyps = r["hyps"]
        k = first_argmax(sel_scores[j]) if sel_scores is not None and len(hyps) > 1 else 0
        hyp = hyps[k] if hyps else []
        hyp_pieces = [tgt_sym[t] for t in hyp]
        why = degenerate_reason(hyp_pieces, read_pieces, max_len_ratio, max_repeats, headline_ratio)
        if why:
            dropped[why] += 1
        else:
            picked_rank[k] += 1
            if bleu_scores is not None:
                sbleu_sum += bleu_scores[j][k]
            src_out.append(src_ids)
            tgt_out.append(hyp)
            teacher_out.append(corpus.teacher_ids(i))
            kept_rows.append(i)
            scores_out.append(r["scores"][k] if k < len(r.get("scores") or ()) else float("nan"))
        if keep_original and (why or hyp != ref_ids):
            src_out.append(src_ids)
            tgt_out.append(ref_ids)
            teacher_out.append(corpus.teacher_ids(i))
            kept_rows.append(i)
            scores_out.append(float("nan"))  # a reference: the teacher did not write it
            originals_added += 1
    kept = len(rows) - sum(dropped.values())
    if rows and not src_out:
        raise KdseqError(f"{select}: all {len(rows)} of the teacher's outputs were dropped as degenerate "
                         f"({', '.join(f'{k} {v}' for k, v in dropped.items() if v)}), so there is nothing to train "
                         "on: is the teacher trained (kdseq-evaluate it)? Otherwise loosen --max-len-ratio or "
                         "--max-repeats, or add --keep-original; the decoded chunks are kept, so a rerun only merges")
    counts = {"sentences": len(rows), "distilled_kept": kept, "dropped": dropped,
              "originals_added": originals_added, "pairs_written": len(src_out),
              "picked_nbest_rank": picked_rank if sel_scores is not None else None,
              "mean_sentence_bleu_vs_reference": round(sbleu_sum / kept, 3) if bleu_scores is not None and kept
              else None}

    with staged_dir(os.path.join(out_dir, select)) as tmp:  # out_dir is a regeneration folder: ours to replace
        bin_dir, text_dir, raw_dir = (os.path.join(tmp, d) for d in ("bin", "text", "raw"))
        for d in (bin_dir, text_dir, raw_dir):
            os.makedirs(d)
        pair = f"{src_lang}-{tgt_lang}"
        for lang, seqs, sym in ((src_lang, src_out, src_sym), (tgt_lang, tgt_out, tgt_sym)):
            write_binarized(os.path.join(bin_dir, f"{split}.{pair}.{lang}"), seqs, corpus.src_dict
                            if lang == src_lang else corpus.tgt_dict)
            with open(os.path.join(text_dir, f"{split}.{lang}"), "w", encoding="utf-8") as ft, \
                    open(os.path.join(raw_dir, f"{split}.{lang}"), "w", encoding="utf-8") as fr:
                for s in seqs:
                    p = [sym[t] for t in s]
                    ft.write(" ".join(p) + "\n")
                    fr.write(ids_to_text(s, sym) + "\n")
        # the student's source dictionary; the teacher's target dictionary (checked equal to the data's)
        shutil.copy(os.path.join(corpus.data_dir, f"dict.{src_lang}.txt"), bin_dir)
        shutil.copy(teacher_dict_file(out_dir, tgt_lang), bin_dir)
        for name in sorted(os.listdir(corpus.data_dir)):  # the other splits (gold valid/test), unchanged
            if name.endswith((".bin", ".idx")) and not name.startswith(f"{split}.{pair}."):
                shutil.copy(os.path.join(corpus.data_dir, name), bin_dir)
        if corpus.teacher_source:  # the teacher's sources of the kept pairs: word-level KD on this corpus reads them
            write_teacher_side(corpus, corpus.teacher_side, os.path.join(tmp, "bin-teacher"), teacher_out, tgt_out)
        for n, side in enumerate(corpus.other_sides, 2):  # other teachers' sources of the same pairs, as they are
            write_teacher_side(corpus, side, os.path.join(tmp, f"bin-teacher{n}"),
                               [side.src[i][:-1].tolist() for i in kept_rows], tgt_out)
        os.makedirs(os.path.join(tmp, "scores"))
        with open(os.path.join(tmp, "scores", TEACHER_SCORES), "w") as f:  # kdseq-filter reads them
            f.write(scores_text(scores_out))
        with open(os.path.join(tmp, "regenerate.json"), "w") as f:
            json.dump({**meta, "select": select, **outputs.record(), **counts}, f, indent=1, sort_keys=True)
    return counts
