"""Cross-lingual headline distillation's moving parts on the toy pair, with a teacher that reads another source
than the student: the student reads each English sentence backwards, the teacher (the toy en->de model) reads
it as it was trained to. Real kdseq-prepare, kdseq-regenerate, fairseq-train and kdseq-evaluate."""
import json
import math
import os
import re

import pytest
import sacrebleu
import torch

from kdseq.errors import KdseqError
from tests.conftest import ROOT, TINY, cli, env_without_torch_override


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    return path


def prepared_rows(toy, tmp, make_row, n_train, teacher_langs):
    """kdseq-prepare of the toy's splits turned into rows by ``make_row(i, english, german)``, with the toy's
    sentencepiece model and dictionary."""
    files = []
    for split in ("train", "valid", "test"):
        en = (toy / "raw" / f"{split}.en").read_text(encoding="utf-8").splitlines()
        de = (toy / "raw" / f"{split}.de").read_text(encoding="utf-8").splitlines()
        rows = [make_row(i, s, t) for i, (s, t) in enumerate(zip(en, de))]
        files.append(write_rows(tmp / f"{split}.tsv", rows[:n_train] if split == "train" else rows))
    out = tmp / "p"
    cli("kdseq-prepare", "--train", files[0], "--valid", files[1], "--test", files[2], "--src-lang", "en",
        "--tgt-lang", "de", "--teacher-source-lang", teacher_langs, "--out-dir", out, "--spm-model",
        toy / "spm.model", "--dict", toy / "bin" / "dict.en.txt")
    return out


def backwards(s):
    return " ".join(reversed(s.split()))


@pytest.fixture(scope="module")
def reversed_corpus(toy_prepared, tmp_path_factory):
    """Prepared folder: student source = the English sentence reversed, target = German, teacher source = the
    English sentence (bin-teacher), with the toy's sentencepiece model and dictionary."""
    return prepared_rows(toy_prepared, tmp_path_factory.mktemp("reversed"), lambda i, s, t: (backwards(s), t, s),
                         600, "eh")


def headline_task(data, teacher_data):
    from kdseq.checkpoints import translation_task

    return translation_task(str(data), "headline_kd", extra_args=["--teacher-source-data", str(teacher_data)])


def test_batches_carry_the_teachers_own_source_line_by_line(reversed_corpus):
    task = headline_task(reversed_corpus / "bin", reversed_corpus / "bin-teacher")
    task.load_dataset("train")
    ds = task.dataset("train")
    teacher_lines = (reversed_corpus / "spm" / "train.teacher.eh").read_text(encoding="utf-8").splitlines()
    student_lines = (reversed_corpus / "spm" / "train.en").read_text(encoding="utf-8").splitlines()
    d = task.teacher_source_dictionary
    seen = 0
    for epoch_seed in (1, 2):  # shuffled batches, two orders
        itr = task.get_batch_iterator(dataset=ds, max_tokens=300, seed=epoch_seed, num_workers=0)
        for batch in itr.next_epoch_itr(shuffle=True):
            t = batch["teacher_net_input"]
            assert t["prev_output_tokens"] is batch["net_input"]["prev_output_tokens"]
            assert t["src_tokens"].size(0) == batch["net_input"]["src_tokens"].size(0)
            for row, sid in enumerate(batch["id"].tolist()):
                toks = t["src_tokens"][row]
                toks = toks[toks.ne(d.pad())]
                assert toks[-1].item() == d.eos() and int(t["src_lengths"][row]) == toks.numel()
                assert d.string(toks[:-1]) == teacher_lines[sid]  # the second source, the same line
                assert toks.numel() == 0 or toks[0].item() != d.pad()  # left-padded like fairseq's sources
                src = batch["net_input"]["src_tokens"][row]
                assert task.source_dictionary.string(src[src.ne(d.pad())][:-1]) == student_lines[sid]
                seen += 1
    assert seen == 2 * len(ds)


def test_misaligned_teacher_source_is_refused(reversed_corpus, toy_prepared, tmp_path):
    # the toy's own folder has the same splits but other sentence counts: refused by name
    task = headline_task(reversed_corpus / "bin", toy_prepared / "bin")
    with pytest.raises(KdseqError, match=r"split 'train' has 3000 sentences, the data has 600: .*aligned"):
        task.load_dataset("train")
    with pytest.raises(KdseqError, match="--task headline_kd needs --teacher-source-data"):
        headline_task(reversed_corpus / "bin", "").load_dataset("valid")


def test_online_teacher_reads_its_own_source(reversed_corpus, toy_teacher):
    """word_kd's teacher scores the target reading teacher_net_input: its distribution is the one computed on
    the English sentence, not on the student's reversed one (which it reads far worse)."""
    from fairseq import tasks as ftasks  # noqa: F401

    from kdseq.criterions.word_kd import WordKDCriterion
    from kdseq.criterions.word_kd_config import word_kd_config
    from kdseq import losses

    task = headline_task(reversed_corpus / "bin", reversed_corpus / "bin-teacher")
    task.load_dataset("valid")
    crit = WordKDCriterion(word_kd_config(label_smoothing=0.0, teacher_path=str(toy_teacher), kd_alpha=1.0), task)
    batch = next(iter(task.get_batch_iterator(dataset=task.dataset("valid"), max_tokens=2000, num_workers=0)
                      .next_epoch_itr(shuffle=False)))
    target = batch["target"]
    mask = target.ne(task.target_dictionary.pad())

    def accuracy(net_input):
        logits = crit.teacher(net_input)[0]
        return float((logits.argmax(-1) == target)[mask].float().mean())

    own, students = accuracy(batch["teacher_net_input"]), accuracy(batch["net_input"])
    assert own > 0.9 and students < own - 0.2, (own, students)
    # the criterion's soft loss is the KL to the distribution on the teacher's source
    V = len(task.target_dictionary)
    student = torch.randn(target.numel(), V)
    lp = torch.log_softmax(student, -1)
    flat_mask = mask.reshape(-1).float()
    soft, _ = crit.sources[0].soft_loss(crit, batch, student, lp, flat_mask, 0)
    ref = losses.soft_target_loss(student, losses.ensemble_logprobs(
        [t.reshape(-1, V) for t in crit.teacher(batch["teacher_net_input"])]), 1.0, student_logprobs=lp,
        row_mask=flat_mask)
    assert torch.allclose(soft, ref, rtol=1e-5)
    # on policy: the student samples its headline from its own (reversed) source, the teacher scores that headline
    # reading the English one, with the same decoder input
    on = WordKDCriterion(word_kd_config(label_smoothing=0.0, teacher_path=str(toy_teacher), kd_alpha=1.0,
                                        kd_on_policy=1.0), task)
    import copy

    student_model = copy.deepcopy(on.teacher.models[0]).train()  # the teacher's weights, reading the reversed text
    torch.manual_seed(9)
    new, rows, _ = on.on_policy.resample(student_model, batch, 0)
    assert rows.all() and new["target"].tolist() != target.tolist()
    assert new["teacher_net_input"]["src_tokens"] is batch["teacher_net_input"]["src_tokens"]
    assert new["teacher_net_input"]["prev_output_tokens"] is new["net_input"]["prev_output_tokens"]
    torch.manual_seed(9)
    _, _, log = on(student_model, batch)
    with torch.no_grad():
        s = student_model(**new["net_input"])[0]
        t = crit.teacher(new["teacher_net_input"])[0]
    keep = new["target"].ne(task.target_dictionary.pad()).reshape(-1)
    want = losses.soft_target_loss(s.reshape(-1, V)[keep], t.reshape(-1, V)[keep].log_softmax(-1))
    assert float(log["kd_loss"]) == pytest.approx(want.item(), rel=1e-4)
    # decoding a split of this task (a student trained with it is evaluated so) cuts over-long sources in the
    # wrapped language-pair dataset
    from kdseq.decoding.generator import truncate_long_sources

    class Short:
        def max_positions(self):
            return (5, 1024)

    n_long = int((task.dataset("valid").src_sizes > 5).sum())
    assert n_long and truncate_long_sources(task, "valid", [Short()]) == n_long
    assert max(len(task.dataset("valid")[i]["source"]) for i in range(len(task.dataset("valid")))) == 5


def test_regeneration_from_teacher_source_then_word_kd(reversed_corpus, toy_teacher, tmp_path):
    """kdseq-regenerate --teacher-source writes the student's source beside the teacher's output, and the
    teacher's source of every kept pair into bin-teacher; fairseq-train --task headline_kd --criterion word_kd
    trains on that corpus with the online teacher, and kdseq-cache-teacher caches from it."""
    env = dict(env_without_torch_override(), KDSEQ_CT2_CACHE=str(tmp_path / "ct2"))
    out = tmp_path / "regen"
    cli("kdseq-regenerate", reversed_corpus / "bin", "--teacher-source", reversed_corpus / "bin-teacher",
        "--teacher-path", toy_teacher, "--out-dir", out, "--beam", "2", "--threads", "1", "--no-progress",
        "--max-len-ratio", "0", "--max-repeats", "0", env=env)
    best = out / "best"
    raw_src = (best / "raw" / "train.en").read_text(encoding="utf-8").splitlines()
    raw_hyp = (best / "raw" / "train.de").read_text(encoding="utf-8").splitlines()
    gold_src = (reversed_corpus / "raw" / "train.en").read_text(encoding="utf-8").splitlines()
    gold_teacher = (reversed_corpus / "raw" / "train.teacher.eh").read_text(encoding="utf-8").splitlines()
    gold_de = (reversed_corpus / "raw" / "train.de").read_text(encoding="utf-8").splitlines()
    assert raw_src == gold_src  # every row (filters off), in order, the student's (reversed) source
    assert sum(h == g for h, g in zip(raw_hyp, gold_de)) / len(gold_de) > 0.8  # it read the English side
    task = headline_task(best / "bin", best / "bin-teacher")
    task.load_dataset("train")
    ds = task.dataset("train")
    d = task.teacher_source_dictionary
    for i in (0, len(ds) // 2, len(ds) - 1):
        assert d.string(ds.teacher_src[i][:-1], "sentencepiece") == gold_teacher[i]
    save = tmp_path / "student"
    res = cli("fairseq-train", best / "bin", "--user-dir", "kdseq", "--save-dir", save, *TINY, "--task", "headline_kd",
              "--teacher-source-data", best / "bin-teacher", "--criterion", "word_kd", "--teacher-path", toy_teacher,
              "--kd-alpha", "1", "--max-update", "8", *EVERY_VALID_ROW, cwd=ROOT, env=env)
    # the logged soft loss is the KL to the teacher reading its own source
    assert abs(logged_valid_kd_loss(res) - teachers_kd_bits(task, toy_teacher, save / "checkpoint_last.pt", (1,))) \
        < 2e-3
    # the student decodes without its teacher's source: evaluated after that folder is gone
    moved = best / "bin-teacher.moved"
    os.rename(best / "bin-teacher", moved)
    cli("kdseq-evaluate", best / "bin", "--path", save / "checkpoint_last.pt", "--beams", "1", "--output-dir",
        tmp_path / "ev", env=env)
    assert json.loads(next((tmp_path / "ev").glob("*.json")).read_text())["sentences"] == len(
        (reversed_corpus / "raw" / "test.en").read_text().splitlines())
    os.rename(moved, best / "bin-teacher")
    cache = tmp_path / "cache"
    cli("kdseq-cache-teacher", best / "bin", "--teacher-source-data", best / "bin-teacher", "--teacher-path",
        toy_teacher, "--splits", "valid", "--topk", "4", "--out-dir", cache, "--cpu", env=env)
    meta = json.loads((cache / "valid" / "meta.json").read_text())
    assert meta["sentences"] == len((reversed_corpus / "raw" / "valid.en").read_text().splitlines())
    # the same data without the teacher's source is other data to the cache: refused before any update
    res = cli("fairseq-train", best / "bin", "--user-dir", "kdseq", "--save-dir", tmp_path / "s2", *TINY,
              "--task", "translation_kd", "--criterion", "word_kd", "--teacher-cache", cache, "--kd-alpha", "1",
              "--max-update", "2", "--train-subset", "valid", cwd=ROOT, env=env, check=False)
    assert res.returncode != 0 and "was built from other data" in res.stderr + res.stdout


def test_pipeline_composes_two_models_in_order(toy_prepared, toy_teacher, tmp_path):
    """kdseq-evaluate --path M1 --then M2: M2 decodes M1's outputs. M1 = en->de, M2 = a de->en model: the pipeline's
    output equals M2 run by hand on a corpus made of M1's hypotheses, and reconstructs the English."""
    toy = toy_prepared
    rows = {}
    for split in ("train", "valid", "test"):
        en = (toy / "raw" / f"{split}.en").read_text(encoding="utf-8").splitlines()
        de = (toy / "raw" / f"{split}.de").read_text(encoding="utf-8").splitlines()
        rows[split] = write_rows(tmp_path / f"{split}.tsv", list(zip(de, en))[:1500] if split == "train"
                                 else list(zip(de, en)))
    back = tmp_path / "de-en"
    cli("kdseq-prepare", "--train", rows["train"], "--valid", rows["valid"], "--test", rows["test"], "--src-lang",
        "dx", "--tgt-lang", "ex", "--out-dir", back, "--spm-model", toy / "spm.model", "--dict",
        toy / "bin" / "dict.en.txt")
    env = env_without_torch_override()
    cli("fairseq-train", back / "bin", "--user-dir", "kdseq", "--save-dir", tmp_path / "m2", *TINY, "--criterion",
        "label_smoothed_cross_entropy", "--max-update", "400", cwd=ROOT, env=env)
    m2 = tmp_path / "m2" / "checkpoint_best.pt"
    res = tmp_path / "res"
    cli("kdseq-evaluate", toy / "bin", "--path", toy_teacher, "--then", m2, "--beams", "2", "--name", "pipe",
        "--reference", toy / "raw" / "test.en", "--output-dir", res, env=env)
    piped = (res / "pipe.test.beam2.hyp").read_text(encoding="utf-8").splitlines()
    result = json.loads((res / "pipe.test.beam2.json").read_text())
    assert result["tgt_lang"] == "ex" and result["bleu"] > 50, result["bleu"]  # English again
    assert result["checkpoints"] == f"{toy_teacher} then {m2}"
    # by hand: M1's hypotheses as a corpus, then M2 on it
    cli("kdseq-evaluate", toy / "bin", "--path", toy_teacher, "--beams", "2", "--name", "m1", "--output-dir", res,
        env=env)
    m1_hyps = (res / "m1.test.beam2.hyp").read_text(encoding="utf-8").splitlines()
    en = (toy / "raw" / "test.en").read_text(encoding="utf-8").splitlines()
    hand = tmp_path / "hand"
    cli("kdseq-prepare", "--train", rows["train"], "--valid", rows["valid"], "--test",
        write_rows(tmp_path / "m1.tsv", list(zip(m1_hyps, en))), "--src-lang", "dx", "--tgt-lang", "ex",
        "--drop-overlap", "--out-dir", hand, "--spm-model", toy / "spm.model", "--dict", toy / "bin" / "dict.en.txt")
    cli("kdseq-evaluate", hand / "bin", "--path", m2, "--beams", "2", "--name", "m2", "--output-dir", res, env=env)
    by_hand = (res / "m2.test.beam2.hyp").read_text(encoding="utf-8").splitlines()
    assert len(piped) == len(by_hand) == len(en)
    # the pipeline hands M1's pieces over as they are; by hand, its text is segmented again by sentencepiece,
    # which can cut a word otherwise: nearly every line is the same
    assert sum(a == b for a, b in zip(piped, by_hand)) >= 0.9 * len(en)
    # M1 wrote German (scored against the German references), the pipeline English: M2 ran on M1's output,
    # not the other way round, and the pipeline's text is not M1's
    assert json.loads((res / "m1.test.beam2.json").read_text())["bleu"] > 50
    de = (toy / "raw" / "test.de").read_text(encoding="utf-8").splitlines()
    assert sacrebleu.corpus_bleu(piped, [de]).score < 10 and sacrebleu.corpus_bleu(piped, [en]).score > 50


@pytest.fixture(scope="module")
def two_source_corpus(toy_prepared, tmp_path_factory):
    """The reversed corpus with a fourth side, a second teacher's source: the English sentence without its last
    word, empty on every third row (that teacher has nothing to read there)."""
    def row(i, s, t):
        return backwards(s), t, s, "" if i % 3 == 0 else " ".join(s.split()[:-1])

    return prepared_rows(toy_prepared, tmp_path_factory.mktemp("two-sources"), row, 300, "eh,ez")


def teachers_kd_bits(task, teacher, student_path, weights):
    """The soft loss of the student at ``student_path`` on the valid split, by hand: KL(p || student) in bits per
    target token, p = sum_m w_m p_m from the teacher reading each source m of ``task`` (a member whose source is
    empty on a row takes no part there, the others' weights renormalised), as fairseq-train's validation logs it
    (kd_loss)."""
    from fairseq import checkpoint_utils

    student = checkpoint_utils.load_model_ensemble([str(student_path)], task=task)[0][0].eval()
    model = checkpoint_utils.load_model_ensemble([str(teacher)], task=task)[0][0].eval()
    task.load_dataset("valid")
    pad, total, ntokens = task.target_dictionary.pad(), 0.0, 0
    for batch in task.get_batch_iterator(dataset=task.dataset("valid"), max_tokens=2000,
                                         num_workers=0).next_epoch_itr(shuffle=False):
        sources = batch.get("teacher_net_inputs") or [batch["teacher_net_input"]]
        with torch.no_grad():
            q = torch.log_softmax(student(**batch["net_input"])[0].double(), -1)
            p, w_sum = 0.0, 0.0
            for w, x in zip(weights, sources):
                w = w * x["src_lengths"].gt(1).double()[:, None, None]
                p, w_sum = p + w * torch.softmax(model(**x)[0].double(), -1), w_sum + w
            p = p / w_sum
        kl = (p * (p.clamp_min(1e-300).log() - q)).sum(-1)
        mask = batch["target"].ne(pad)
        total += float(kl[mask].sum())
        ntokens += int(mask.sum())
    return total / ntokens / math.log(2)


# batches of any size: with fairseq's default multiple of 8, its validation of the 60 toy rows logs 56 of them
EVERY_VALID_ROW = ("--required-batch-size-multiple", "1")


def logged_valid_kd_loss(res):
    return float(re.findall(r"valid on 'valid' subset \|.* kd_loss ([0-9.]+)", res.stdout + res.stderr)[-1])


def test_two_teachers_each_reading_its_own_source(two_source_corpus, toy_teacher):
    """--teacher-source-data A:B with --teacher-path a.pt:b.pt: each teacher scores the target reading its own
    source, and the soft target is log(w_a p_a + w_b p_b) row by row, with w = (1, 0) on a row whose second source
    is empty (computed here by hand from each teacher's own logits)."""
    from kdseq.criterions.word_kd import WordKDCriterion
    from kdseq.criterions.word_kd_config import word_kd_config
    from kdseq import losses

    out = two_source_corpus
    second = (out / "raw" / "valid.teacher.ez").read_text(encoding="utf-8").splitlines()
    assert second[0] == "" and second[1]  # the empty side is kept, not dropped with its row
    assert len(second) == len((out / "raw" / "valid.en").read_text(encoding="utf-8").splitlines())
    task = headline_task(out / "bin", f"{out / 'bin-teacher'}:{out / 'bin-teacher2'}")
    task.load_dataset("valid")
    crit = WordKDCriterion(word_kd_config(label_smoothing=0.0, teacher_path=f"{toy_teacher}:{toy_teacher}",
                                          kd_alpha=1.0, kd_teacher_weights="1,3"), task)
    batch = next(iter(task.get_batch_iterator(dataset=task.dataset("valid"), max_tokens=2000, num_workers=0)
                      .next_epoch_itr(shuffle=False)))
    a, b = batch["teacher_net_inputs"]
    assert a is batch["teacher_net_input"] and not torch.equal(a["src_tokens"], b["src_tokens"])
    empty = b["src_lengths"].eq(1)
    assert empty.tolist() == [second[i] == "" for i in batch["id"].tolist()] and 0 < int(empty.sum()) < len(empty)
    model = crit.teacher.models[0]
    with torch.no_grad():
        pa, pb = (torch.softmax(model(**x)[0].float(), -1) for x in (a, b))
    w_b = torch.where(empty, 0.0, 0.75)[:, None, None]
    w_a = torch.where(empty, 1.0, 0.25)[:, None, None]
    want = torch.log(w_a * pa + w_b * pb)
    V = want.size(-1)
    target = batch["target"]
    mask = target.ne(task.target_dictionary.pad()).reshape(-1).float()
    got = crit.sources[0].scores(batch, torch.zeros(target.numel(), V), 0)
    assert len(got) == 1 and torch.allclose(got[0], want.reshape(-1, V), atol=1e-5)
    rows = empty.repeat_interleave(target.size(1))  # a row with one source: exactly the first teacher's
    assert torch.allclose(got[0][rows].exp(), pa.reshape(-1, V)[rows], atol=1e-6)
    assert not torch.allclose(want, torch.log(0.25 * pa + 0.75 * pb))  # the empty rows did change it
    student = torch.randn(target.numel(), V)
    lp = torch.log_softmax(student, -1)
    soft, _ = crit.sources[0].soft_loss(crit, batch, student, lp, mask, 0)
    ref = losses.soft_target_loss(student, want.reshape(-1, V), 1.0, student_logprobs=lp, row_mask=mask)
    assert torch.allclose(soft, ref, rtol=1e-5)
    # one teacher for two sources, or --kd-loss mse: refused
    with pytest.raises(KdseqError, match="2 sources, --teacher-path 1 teachers"):
        WordKDCriterion(word_kd_config(label_smoothing=0.0, teacher_path=str(toy_teacher), kd_alpha=1.0), task)
    with pytest.raises(KdseqError, match="3 weights for 2 teachers"):
        WordKDCriterion(word_kd_config(label_smoothing=0.0, teacher_path=f"{toy_teacher}:{toy_teacher}",
                                       kd_teacher_weights="1,1,1"), task)


def test_regeneration_writes_the_second_source_of_the_kept_pairs(two_source_corpus, toy_teacher, tmp_path):
    """kdseq-regenerate --teacher-source A:B: the teacher reads A, and B is written for the kept pairs (some dropped
    by the filters) as bin-teacher2, aligned with bin/; fairseq-train then trains with both teachers."""
    env = dict(env_without_torch_override(), KDSEQ_CT2_CACHE=str(tmp_path / "ct2"))
    src = two_source_corpus
    out = tmp_path / "regen"
    cli("kdseq-regenerate", src / "bin", "--teacher-source", f"{src / 'bin-teacher'}:{src / 'bin-teacher2'}",
        "--teacher-path", toy_teacher, "--out-dir", out, "--beam", "2", "--threads", "1", "--no-progress",
        "--max-len-ratio", "1.05", "--max-repeats", "0", env=env)
    best = out / "best"
    record = json.loads((best / "regenerate.json").read_text())
    assert 0 < record["pairs_written"] < record["sentences"]  # the filter dropped some: the alignment is tested
    assert record["other_teacher_sources"] == [str(src / "bin-teacher2")]
    gold_src = (src / "raw" / "train.en").read_text(encoding="utf-8").splitlines()
    gold_second = (src / "raw" / "train.teacher.ez").read_text(encoding="utf-8").splitlines()
    second_of = {}
    for s, t in zip(gold_src, gold_second):
        second_of.setdefault(s, set()).add(t)
    kept_src = (best / "raw" / "train.en").read_text(encoding="utf-8").splitlines()
    task = headline_task(best / "bin", f"{best / 'bin-teacher'}:{best / 'bin-teacher2'}")
    task.load_dataset("train")
    ds, d = task.dataset("train"), task.teacher_source_dictionary
    assert len(ds) == len(kept_src) == record["pairs_written"]
    for j, s in enumerate(kept_src):
        assert d.string(ds.teacher_srcs[1][j][:-1], "sentencepiece") in second_of[s]
    save = tmp_path / "student"
    res = cli("fairseq-train", best / "bin", "--user-dir", "kdseq", "--save-dir", save, *TINY, "--task", "headline_kd",
        "--teacher-source-data", f"{best / 'bin-teacher'}:{best / 'bin-teacher2'}", "--criterion", "word_kd",
        "--teacher-path", f"{toy_teacher}:{toy_teacher}", "--kd-teacher-weights", "0.7,0.3", "--kd-alpha", "1",
        "--max-update", "4", *EVERY_VALID_ROW, cwd=ROOT, env=env)
    want = teachers_kd_bits(task, toy_teacher, save / "checkpoint_last.pt", (0.7, 0.3))
    assert abs(logged_valid_kd_loss(res) - want) < 2e-3  # the teachers' 0.7/0.3 average, row by row
    assert abs(logged_valid_kd_loss(res) - teachers_kd_bits(task, toy_teacher, save / "checkpoint_last.pt",
                                                             (0.5, 0.5))) > 2e-3  # and not an equal one
    res = cli("kdseq-cache-teacher", best / "bin", "--teacher-source-data",
              f"{best / 'bin-teacher'}:{best / 'bin-teacher2'}", "--teacher-path", toy_teacher, "--splits", "valid",
              "--out-dir", tmp_path / "cache", env=env, check=False)
    assert res.returncode != 0 and "a cache holds one teacher source" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "cache").exists()
