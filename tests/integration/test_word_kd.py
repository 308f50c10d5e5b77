"""--criterion word_kd on real fairseq models: equivalences, masking, the teacher's isolation, errors, training."""
import os
import re
import shutil

import pytest
import torch
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion

import kdseq  # noqa: F401  (registers the criterion, allows loading checkpoints)
from kdseq import losses
from kdseq.errors import KdseqError
from tests.conftest import ROOT, TINY, cli, teacher_and_batch, translation_kd, word_kd_criterion


@pytest.fixture(scope="module")
def loaded(toy_teacher):
    shared = teacher_and_batch(toy_teacher)
    return {**shared, "fresh": shared["student"].eval()}  # an untrained student of the same shape


def criterion(loaded, teacher, **kw):
    return word_kd_criterion(loaded["task"], teacher, **kw)


def test_alpha_zero_is_label_smoothed_cross_entropy(loaded, toy_teacher):
    ref = LabelSmoothedCrossEntropyCriterion(loaded["task"], False, 0.1)
    expected, n, _ = ref(loaded["fresh"], loaded["sample"])
    got, m, log = criterion(loaded, toy_teacher, kd_alpha=0.0)(loaded["fresh"], loaded["sample"])
    assert n == m and torch.equal(got, expected)
    # the soft term is still computed and logged: the KL to the teacher, by hand
    sample = loaded["sample"]
    with torch.no_grad():
        s = torch.log_softmax(loaded["fresh"](**sample["net_input"])[0].float(), -1)
        t = torch.log_softmax(loaded["teacher_model"](**sample["net_input"])[0].float(), -1)
    kl = (t.exp() * (t - s)).sum(-1)[sample["target"].ne(loaded["task"].target_dictionary.pad())].sum()
    assert float(log["kd_loss"]) == pytest.approx(kl.item(), rel=1e-5)


def test_fused_path_gives_the_loss_and_gradients_of_plain_autograd(loaded, toy_teacher):
    """One live teacher at T = 1 takes the fused path (hard and soft gradients written once by hand); written out
    here with plain torch autograd instead, (1 - alpha) * fairseq's label-smoothed loss + alpha * the KL to the
    teacher over non-padding tokens gives the same loss, logs and student gradients."""
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    crit = criterion(loaded, toy_teacher, kd_alpha=0.3)
    assert crit.fused
    model, sample = loaded["fresh"], loaded["sample"]
    model.zero_grad()
    loss, _, log = crit(model, sample)
    loss.backward()
    fused = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    out = model(**sample["net_input"])
    lprobs = torch.log_softmax(out[0].float(), -1).view(-1, out[0].size(-1))
    target = sample["target"].view(-1)
    pad = loaded["task"].target_dictionary.pad()
    hard, nll = label_smoothed_nll_loss(lprobs, target, 0.1, ignore_index=pad, reduce=True)
    with torch.no_grad():
        t = torch.log_softmax(loaded["teacher_model"](**sample["net_input"])[0].float(), -1).view_as(lprobs)
    kl = (t.exp() * (t - lprobs)).sum(-1)[target.ne(pad)].sum()
    ref = 0.7 * hard + 0.3 * kl
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    for key, want in (("kd_loss", kl), ("hard_loss", hard), ("nll_loss", nll)):
        assert float(log[key]) == pytest.approx(want.item(), rel=1e-5), key
    for name, p in model.named_parameters():
        assert torch.allclose(fused[name], p.grad, atol=1e-6, rtol=1e-4), name
    model.zero_grad()


def test_teacher_equal_to_student_has_zero_soft_loss(loaded, toy_teacher):
    for loss, key in (("kl", "kd_loss"), ("mse", "kd_mse")):  # MSE is logged in its own unit, under its own name
        _, _, log = criterion(loaded, toy_teacher, kd_loss=loss, kd_temperature=2.0)(
            loaded["teacher_model"], loaded["sample"])
        assert log[key].item() == pytest.approx(0.0, abs=1e-4)
        assert log["kd_agree"].item() == loaded["sample"]["ntokens"]


def test_soft_loss_ignores_padding(loaded, toy_teacher):
    """The batched soft loss equals the sum over each sentence decoded alone (no padding at all)."""
    crit = criterion(loaded, toy_teacher, kd_alpha=1.0, kd_temperature=2.0)
    sample = loaded["sample"]
    _, _, log = crit(loaded["fresh"], sample)
    pad = loaded["task"].target_dictionary.pad()
    assert (sample["target"] == pad).any(), "the batch should contain padding"
    total = 0.0
    for i in range(sample["target"].size(0)):
        src = sample["net_input"]["src_tokens"][i]
        src = src[src.ne(pad)].unsqueeze(0)
        tgt = sample["target"][i]
        n = int(tgt.ne(pad).sum())
        prev = sample["net_input"]["prev_output_tokens"][i][:n].unsqueeze(0)
        with torch.no_grad():
            s = loaded["fresh"](src, torch.tensor([src.size(1)]), prev)[0][0]
            t = loaded["teacher_model"](src, torch.tensor([src.size(1)]), prev)[0][0]
        total += losses.soft_target_loss(s, t.log_softmax(-1), 2.0).item()
    assert log["kd_loss"].item() == pytest.approx(total, rel=1e-4)


def test_ensemble_of_one_model_twice_equals_the_model(loaded, toy_teacher):
    one = criterion(loaded, toy_teacher)(loaded["fresh"], loaded["sample"])[0]
    two = criterion(loaded, f"{toy_teacher}:{toy_teacher}")(loaded["fresh"], loaded["sample"])[0]
    assert two.item() == pytest.approx(one.item(), rel=1e-5)


def test_topk_equal_vocabulary_matches_full(loaded, toy_teacher):
    v = len(loaded["task"].target_dictionary)
    full = criterion(loaded, toy_teacher, kd_alpha=1.0)(loaded["fresh"], loaded["sample"])[0]
    topk = criterion(loaded, toy_teacher, kd_alpha=1.0, kd_topk=v)(loaded["fresh"], loaded["sample"])[0]
    small = criterion(loaded, toy_teacher, kd_alpha=1.0, kd_topk=2)(loaded["fresh"], loaded["sample"])[0]
    assert topk.item() == pytest.approx(full.item(), rel=1e-5)
    assert small.item() != pytest.approx(full.item(), rel=1e-3)


def test_errors_name_the_flag_or_file(loaded, toy_teacher, tmp_path):
    with pytest.raises(KdseqError, match="needs --teacher-path"):
        criterion(loaded, "")
    with pytest.raises(KdseqError, match=f"checkpoint {tmp_path / 'nope.pt'} does not exist"):
        criterion(loaded, tmp_path / "nope.pt")
    with pytest.raises(KdseqError, match="--kd-alpha 1.5"):
        criterion(loaded, toy_teacher, kd_alpha=1.5)
    with pytest.raises(KdseqError, match="--kd-anneal needs --task translation_kd"):  # before any update
        criterion(loaded, toy_teacher, kd_anneal=True, max_update=10)
    annealed = word_kd_criterion(translation_kd(loaded["task"]), toy_teacher, kd_anneal=True, max_update=10)
    assert annealed.current_alpha() == 1.0  # no update yet: all teacher
    annealed.set_num_updates(4)
    assert annealed.current_alpha() == pytest.approx(0.6)
    # a teacher whose dictionary differs in one entry
    data = loaded["cfg"].task.data
    other = tmp_path / "other-bin"
    shutil.copytree(data, other)
    lines = (other / "dict.de.txt").read_text(encoding="utf-8").splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    (other / "dict.de.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(KdseqError, match=re.escape(f"{other}/dict.de.txt has")) as e:
        criterion(loaded, toy_teacher, teacher_data=str(other))
    assert f"{data}/dict.de.txt has" in str(e.value) and "at index 9" in str(e.value)


def train_log_nll(stdout):
    return [float(m) for m in re.findall(r"train_inner \|.*, nll_loss=([0-9.]+)", stdout)]


def test_fairseq_train_word_kd_end_to_end(toy_prepared, toy_teacher, tmp_path):
    """A student distilled through the real fairseq-train: its NLL falls, alpha anneals, and its checkpoint
    holds exactly the keys of a plain student (no teacher inside)."""
    common = [toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--max-update", "60",
              "--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--save-interval-updates", "60"]
    kd = cli("fairseq-train", *common, "--save-dir", tmp_path / "kd", "--task", "translation_kd",
             "--criterion", "word_kd", "--label-smoothing", "0.1", "--teacher-path", toy_teacher,
             "--kd-temperature", "2", "--kd-anneal", cwd=ROOT)
    log = kd.stdout + kd.stderr
    trace = train_log_nll(log)  # the student's NLL of the gold data
    assert len(trace) >= 3 and trace[-1] < 0.7 * trace[0], trace
    alphas = [float(a) for a in re.findall(r"train_inner \|.* kd_alpha=([0-9.]+)", log)]
    assert alphas == sorted(alphas, reverse=True) and alphas[0] > alphas[-1], alphas
    assert re.search(r"kd_agree=[0-9.]+", log) and re.search(r"kd_loss=[0-9.]+", log)
    cli("fairseq-train", *common, "--save-dir", tmp_path / "plain", "--criterion", "label_smoothed_cross_entropy",
        "--label-smoothing", "0.1", cwd=ROOT)
    a = torch.load(tmp_path / "kd" / "checkpoint_last.pt", weights_only=False)
    b = torch.load(tmp_path / "plain" / "checkpoint_last.pt", weights_only=False)
    assert sorted(a["model"]) == sorted(b["model"])
    size_a = os.path.getsize(tmp_path / "kd" / "checkpoint_last.pt")
    size_b = os.path.getsize(tmp_path / "plain" / "checkpoint_last.pt")
    assert abs(size_a - size_b) < 0.02 * size_b, (size_a, size_b)


def test_teacher_reads_its_own_input_when_the_batch_carries_one(loaded, toy_teacher):
    """teacher_net_input (e.g. a headline teacher reading another source) replaces the student's input for the
    teacher only: the soft loss equals the one computed by hand with the teacher on that input."""
    sample = dict(loaded["sample"])
    other = dict(sample["net_input"])
    other["src_tokens"] = other["src_tokens"].flip(0)  # every sentence now sees another sentence's source
    other["src_lengths"] = other["src_lengths"].flip(0)
    sample["teacher_net_input"] = other
    crit = criterion(loaded, toy_teacher, kd_alpha=1.0)
    plain = crit(loaded["fresh"], loaded["sample"])[2]["kd_loss"].item()
    swapped = crit(loaded["fresh"], sample)[2]["kd_loss"].item()
    pad = loaded["task"].target_dictionary.pad()
    mask = sample["target"].ne(pad).reshape(-1)
    with torch.no_grad():
        s = loaded["fresh"](**sample["net_input"])[0]
        t = loaded["teacher_model"](**other)[0]
    v = s.size(-1)
    expected = losses.soft_target_loss(s.reshape(-1, v)[mask], t.reshape(-1, v)[mask].log_softmax(-1)).item()
    assert swapped == pytest.approx(expected, rel=1e-4) and swapped != pytest.approx(plain, rel=1e-2)


def test_corrupt_teacher_checkpoint_is_named(loaded, tmp_path):
    bad = tmp_path / "teacher.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(KdseqError, match=f"cannot load checkpoint {bad}"):
        criterion(loaded, bad)
