"""On-policy distillation (--kd-on-policy) on real fairseq models: the student's own samples, collated as fairseq
collates a batch and scored by the teacher; the loss against plain forward passes written out here."""
import re

import pytest
import torch
import kdseq  # noqa: F401  (registers the criterion, allows loading checkpoints)
from kdseq import losses
from kdseq.errors import KdseqError
from kdseq.data.binarized import IndexedSeqs
from kdseq.onpolicy import recollate
from tests.conftest import ROOT, TINY, cli, teacher_and_batch, translation_kd, word_kd_criterion


@pytest.fixture(scope="module")
def loaded(toy_teacher):
    shared = teacher_and_batch(toy_teacher)
    shared["student"].train()  # the criterion samples only in training mode
    return shared


def criterion(loaded, teacher, **kw):
    return word_kd_criterion(loaded["task"], teacher, **kw)


def loss_and_grads(crit, model, sample, seed=0):
    model.zero_grad()
    torch.manual_seed(seed)
    loss, n, log = crit(model, sample)
    loss.backward()
    return loss.detach(), n, log, {k: p.grad.clone() for k, p in model.named_parameters()}


def test_recollate_by_hand():
    """Rows 0 and 2 get samples; row 1 keeps its gold target: right padding, EOS last, and EOS first in the decoder
    input, as fairseq's LanguagePairDataset collates (pad 1, eos 2)."""
    target = torch.tensor([[5, 6, 2, 1], [7, 8, 9, 2], [4, 2, 1, 1]])
    sample = {"id": torch.tensor([3, 1, 0]), "target": target, "ntokens": 9,
              "net_input": {"src_tokens": torch.ones(3, 2, dtype=torch.long), "src_lengths": torch.tensor([2, 2, 2]),
                            "prev_output_tokens": torch.zeros(3, 4, dtype=torch.long)},
              "teacher_net_input": {"src_tokens": torch.ones(3, 5, dtype=torch.long)}}
    new, on = recollate(sample, torch.tensor([0, 2]), [torch.tensor([9, 9, 9, 9, 2]), torch.tensor([2])], 1, 2)
    assert new["target"].tolist() == [[9, 9, 9, 9, 2], [7, 8, 9, 2, 1], [2, 1, 1, 1, 1]]
    assert new["net_input"]["prev_output_tokens"].tolist() == [[2, 9, 9, 9, 9], [2, 7, 8, 9, 1], [2, 1, 1, 1, 1]]
    assert new["teacher_net_input"]["prev_output_tokens"] is new["net_input"]["prev_output_tokens"]
    assert new["teacher_net_input"]["src_tokens"].shape == (3, 5)  # the teacher keeps its own source
    assert new["ntokens"] == 5 + 4 + 1 and on.tolist() == [True, False, True]
    assert sample["target"] is target and sample["ntokens"] == 9  # the gold batch is not changed


def test_lambda_zero_is_off_policy_word_kd_in_loss_and_gradients(loaded, toy_teacher):
    """lambda = 0, or a schedule still at 0 at this update, gives exactly the loss and gradients of word_kd without
    the on-policy flags (the same fused path)."""
    model, sample = loaded["student"], loaded["sample"]
    want = loss_and_grads(criterion(loaded, toy_teacher, kd_alpha=0.4), model, sample)
    rising = word_kd_criterion(translation_kd(loaded["task"]), toy_teacher, kd_alpha=0.4, kd_on_policy=0.5,
                               kd_on_policy_schedule="linear", max_update=100)
    rising.set_num_updates(0)
    for crit in (criterion(loaded, toy_teacher, kd_alpha=0.4, kd_on_policy=0.0), rising):
        got = loss_and_grads(crit, model, sample)
        assert torch.equal(got[0], want[0]) and got[1] == want[1]
        assert all(torch.equal(got[3][k], want[3][k]) for k in want[3])
        assert "kd_on_policy_rows" not in got[2] or got[2]["kd_on_policy_rows"] == 0


def test_samples_end_in_eos_without_padding_inside_and_respect_the_length_limit(loaded, toy_teacher):
    crit = criterion(loaded, toy_teacher, kd_on_policy=1.0, kd_sample_max_len_a=0.5, kd_sample_max_len_b=3)
    sample, d = loaded["sample"], loaded["task"].target_dictionary
    torch.manual_seed(5)
    new, on, n_tokens = crit.on_policy.resample(loaded["student"], sample, 0)
    assert on.all() and n_tokens == new["ntokens"]
    width = sample["net_input"]["src_tokens"].size(1)  # fairseq's limit: a * the batch's source length + b
    for row in new["target"].tolist():
        body = [t for t in row if t != d.pad()]
        assert body[-1] == d.eos() and d.eos() not in body[:-1]
        assert row[:len(body)] == body  # no padding inside: the padding is all at the end
        assert len(body) - 1 <= int(0.5 * width + 3)
    assert loaded["student"].training  # sampled in eval mode, then put back


def test_same_seed_same_samples(loaded, toy_teacher):
    crit = criterion(loaded, toy_teacher, kd_on_policy=0.5)
    draws = []
    for seed in (11, 11, 12):
        torch.manual_seed(seed)
        new, on, _ = crit.on_policy.resample(loaded["student"], loaded["sample"], 0)
        draws.append((on.tolist(), new["target"].tolist()))
    assert draws[0] == draws[1] and draws[0] != draws[2]
    assert 0 < sum(draws[0][0]) < len(draws[0][0])  # a mixed batch: some rows sampled, some gold


@pytest.mark.parametrize("divergence,beta", [("forward", 0.5), ("jsd", 0.1), ("reverse", 0.5)])
def test_on_policy_loss_equals_plain_forward_passes_on_the_sampled_batch(loaded, toy_teacher, divergence, beta):
    """The criterion's loss on a mixed batch equals, written out with plain forward passes of student and teacher
    on the re-collated batch: (1 - alpha) * label-smoothed CE over the gold rows + alpha * the divergence over
    every row; the teacher's scores are those of a plain teacher forward pass on the sampled targets; the logs
    count the on-policy rows and sampled tokens."""
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    crit = criterion(loaded, toy_teacher, kd_alpha=0.3, kd_on_policy=0.5, kd_divergence=divergence, kd_beta=beta)
    model, sample, pad = loaded["student"], loaded["sample"], loaded["task"].target_dictionary.pad()
    loss, n, log, grads = loss_and_grads(crit, model, sample, seed=21)
    torch.manual_seed(21)
    new, on, n_tokens = crit.on_policy.resample(model, sample, 0)
    assert 0 < int(on.sum()) < len(on)
    model.zero_grad()
    out = model(**new["net_input"])[0]
    lprobs = torch.log_softmax(out.float(), -1).view(-1, out.size(-1))
    with torch.no_grad():
        teacher = loaded["teacher_model"](**new["net_input"])[0]
    rows = new["target"].view(-1).ne(pad)
    gold = new["target"].masked_fill(on.unsqueeze(1), pad).view(-1)
    hard, _ = label_smoothed_nll_loss(lprobs, gold, 0.1, ignore_index=pad, reduce=True)
    soft = losses.divergence(out.view(-1, out.size(-1)), torch.log_softmax(teacher.float(), -1).view_as(lprobs),
                             divergence, beta, row_mask=rows.float())
    ref = 0.7 * hard + 0.3 * soft
    ref.backward()
    assert n == new["ntokens"] == int(rows.sum())
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert float(log["kd_loss"]) == pytest.approx(soft.item(), rel=1e-5)
    assert log["kd_on_policy_rows"] == int(on.sum()) and log["kd_sampled_tokens"] == n_tokens
    for k, p in model.named_parameters():
        assert torch.allclose(grads[k], p.grad, atol=1e-6, rtol=1e-4), k
    model.zero_grad()


def test_validation_scores_the_gold_targets(loaded, toy_teacher):
    """In eval mode (fairseq's validation) nothing is sampled: the loss is word_kd's on the gold batch."""
    model = loaded["student"]
    model.eval()
    try:
        with torch.no_grad():
            got = criterion(loaded, toy_teacher, kd_on_policy=1.0)(model, loaded["sample"])
            want = criterion(loaded, toy_teacher)(model, loaded["sample"])
    finally:
        model.train()
    assert torch.equal(got[0], want[0]) and "kd_on_policy_rows" not in got[2]


def test_bad_on_policy_flags_name_the_flag(loaded, toy_teacher, tmp_path):
    for kw, message in (({"kd_beta": 1.5}, "--kd-beta 1.5: must be a finite number in"),
                        ({"kd_on_policy": -0.1}, "--kd-on-policy -0.1: must be"),
                        ({"kd_on_policy": float("nan")}, "--kd-on-policy nan"),
                        ({"kd_sample_temperature": float("inf")}, "--kd-sample-temperature inf"),
                        ({"kd_sample_temperature": 0.0}, "--kd-sample-temperature 0.0"),
                        ({"kd_divergence": "jsd", "kd_topk": 4}, "--kd-divergence jsd needs the teacher's whole"),
                        ({"kd_on_policy": 0.5, "kd_on_policy_schedule": "exp"}, "needs --kd-on-policy-updates")):
        with pytest.raises(KdseqError, match=re.escape(message)):
            criterion(loaded, toy_teacher, **kw)
    with pytest.raises(KdseqError, match="--kd-on-policy needs an online teacher"):
        criterion(loaded, "", teacher_cache=str(tmp_path), kd_on_policy=0.5)
    with pytest.raises(KdseqError, match="--kd-on-policy-schedule linear needs --task translation_kd"):
        criterion(loaded, toy_teacher, kd_on_policy=0.5, kd_on_policy_schedule="linear", max_update=10)


def test_fairseq_train_on_policy_end_to_end(toy_prepared, toy_teacher, tmp_path):
    """fairseq-train with GKD's translation setting (JSD at beta 0.1) on half the rows: it trains, logs the
    on-policy share near lambda and the samples' mean length, and the same seed repeats the run exactly."""
    args = [toy_prepared / "bin", "--user-dir", "kdseq", *TINY, "--max-update", "12", "--log-interval", "4",
            "--task", "translation_kd", "--criterion", "word_kd", "--label-smoothing", "0.1",
            "--teacher-path", toy_teacher, "--kd-on-policy", "0.5", "--kd-divergence", "jsd", "--kd-beta", "0.1",
            "--disable-validation"]
    logs = []
    for run in ("a", "b"):
        res = cli("fairseq-train", *args, "--save-dir", tmp_path / run, cwd=ROOT)
        logs.append(res.stdout + res.stderr)
    shares = [float(x) for x in re.findall(r"train_inner \|.* kd_on_policy=([0-9.]+)", logs[0])]
    lengths = [float(x) for x in re.findall(r"train_inner \|.* kd_sample_len=([0-9.]+)", logs[0])]
    assert len(shares) == 3 and 30 < sum(shares) / 3 < 70, shares
    longest = int(IndexedSeqs(str(toy_prepared / "bin" / "train.en-de.en")).sizes.max())  # EOS included
    assert len(lengths) == 3 and all(1 < x <= 1.2 * longest + 10 + 1 for x in lengths), lengths  # not EOS alone;
    # within fairseq's limit a * (padded) source + b, EOS counted
    assert lengths == [float(x) for x in re.findall(r"train_inner \|.* kd_sample_len=([0-9.]+)", logs[1])]
    losses_a = re.findall(r"train_inner \|.* loss=([0-9.]+)", logs[0])
    assert losses_a and losses_a == re.findall(r"train_inner \|.* loss=([0-9.]+)", logs[1])
