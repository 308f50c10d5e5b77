"""Distillation losses against hand computation on 3-token vocabularies (columns: tokens a, b, c)."""
import math
import re

import pytest
import torch

from kdseq import losses

UNIFORM = torch.zeros(1, 3)  # student logits: p = (1/3, 1/3, 1/3)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def logp(*probs):
    return torch.tensor([probs]).log()


def test_soft_target_kl_at_t1():
    # teacher (.5, .25, .25) vs uniform student: KL = .5 ln(.5*3) + 2 * .25 ln(.25*3)
    expected = 0.5 * math.log(1.5) + 0.5 * math.log(0.75)
    assert losses.soft_target_loss(UNIFORM, logp(0.5, 0.25, 0.25)).item() == pytest.approx(expected, abs=1e-6)


def test_soft_target_temperature_scales_by_t_squared():
    # T = 2: teacher probabilities become proportional to sqrt(p): (.7071, .5, .5) / 1.7071; student stays uniform
    z = math.sqrt(0.5) + 1.0
    t = [math.sqrt(0.5) / z, 0.5 / z, 0.5 / z]
    expected = 4 * sum(p * math.log(p * 3) for p in t)
    got = losses.soft_target_loss(UNIFORM, logp(0.5, 0.25, 0.25), temperature=2.0)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_teacher_equal_to_student_gives_zero():
    z = torch.randn(5, 7)
    assert losses.soft_target_loss(z, z.log_softmax(-1), temperature=3.0).item() == pytest.approx(0, abs=1e-5)
    assert losses.logit_mse_loss(z, z).item() == 0


def test_gradient_is_t_times_difference_of_tempered_softmaxes():
    z = torch.randn(4, 6, requires_grad=True)
    teacher = torch.randn(4, 6)
    T = 2.5
    losses.soft_target_loss(z, teacher.log_softmax(-1), temperature=T).backward()
    expected = T * ((z / T).softmax(-1) - (teacher / T).softmax(-1))
    assert torch.allclose(z.grad, expected.detach(), atol=1e-6)


def test_logit_mse():
    # ((1-1)^2 + (2-0)^2 + (3-3)^2) / 3 for one position, summed over two identical positions
    s = torch.tensor([[1.0, 2.0, 3.0]] * 2)
    t = torch.tensor([[1.0, 0.0, 3.0]] * 2)
    assert losses.logit_mse_loss(s, t).item() == pytest.approx(2 * 4 / 3)


def test_topk_renormalises_and_restricts_kl():
    ids, lp = losses.topk_logprobs(logp(0.2, 0.5, 0.3), 2)
    assert ids.tolist() == [[1, 2]]
    assert lp.exp().tolist()[0] == pytest.approx([0.625, 0.375])
    expected = 0.625 * math.log(0.625 * 3) + 0.375 * math.log(0.375 * 3)
    assert losses.soft_target_loss(UNIFORM, lp, teacher_ids=ids).item() == pytest.approx(expected, abs=1e-6)


def test_topk_of_full_vocabulary_equals_full_loss():
    z, t = torch.randn(6, 9), torch.randn(6, 9).log_softmax(-1)
    ids, lp = losses.topk_logprobs(t, 9)
    full = losses.soft_target_loss(z, t, temperature=2.0)
    assert losses.soft_target_loss(z, lp, 2.0, teacher_ids=ids).item() == pytest.approx(full.item(), abs=1e-5)


def test_ensemble_averages_probabilities_not_logits():
    a, b = logp(0.6, 0.2, 0.2), logp(0.2, 0.6, 0.2)
    assert losses.ensemble_logprobs([a, b]).exp().tolist()[0] == pytest.approx([0.4, 0.4, 0.2], abs=1e-6)


def test_annealing_schedule_endpoints():
    assert losses.annealed_gold_weight(0, 1000) == 0.0
    assert losses.annealed_gold_weight(500, 1000) == 0.5
    assert losses.annealed_gold_weight(1000, 1000) == 1.0
    assert losses.annealed_gold_weight(5000, 1000) == 1.0
    with pytest.raises(ValueError):
        losses.annealed_gold_weight(1, 0)


def test_float32_under_half_inputs():
    z = torch.randn(3, 5).half()
    assert losses.soft_target_loss(z, torch.randn(3, 5).log_softmax(-1).half()).dtype == torch.float32


def test_dense_kl_from_logits_or_logprobs_equals_the_plain_expression():
    """The fused T = 1 KL (the online teacher's loss): value and gradient equal the plain autograd expression in
    float64, given the teacher's raw logits or its log-probabilities; padding rows count for nothing."""
    z = torch.randn(40, 30, requires_grad=True)
    teacher = torch.randn(40, 30) * 6
    mask = (torch.rand(40) > 0.3).float()
    t = teacher.double().log_softmax(-1)
    s = z.double().log_softmax(-1)
    ref = ((t.exp() * (t - s)).sum(-1) * mask.double()).sum()
    ref_grad, = torch.autograd.grad(ref, z)
    for scores in (teacher, teacher.log_softmax(-1), teacher + 100.0):  # any shift of the logits: the same KL
        got = losses.dense_kl(scores, z.log_softmax(-1), mask)
        grad, = torch.autograd.grad(got, z)
        assert got.item() == pytest.approx(ref.item(), rel=1e-5)
        assert torch.allclose(grad, ref_grad.float(), atol=1e-6)
    # soft_target_loss at T = 1 with the student's log-probabilities takes this path, and gives the same value
    plain = losses.soft_target_loss(z, teacher.log_softmax(-1), student_logprobs=z.log_softmax(-1), row_mask=mask)
    assert plain.item() == pytest.approx(ref.item(), rel=1e-5)
    once = losses.dense_kl(teacher, z.log_softmax(-1), mask)
    once.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="twice"):  # its backward scales a saved tensor in place
        once.backward()


def test_argmax_agreement_counts_positions_where_the_top_tokens_match():
    student = torch.tensor([[0.1, 2.0, 0.3], [1.0, 0.0, 0.5], [0.2, 0.1, 3.0], [0.0, 1.0, 0.0]])
    teacher = torch.tensor([[0.0, 5.0, 1.0], [0.0, 1.0, 0.5], [0.1, 0.0, 2.0], [0.0, 9.0, 0.0]])
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0])  # rows 0 and 2 agree, row 1 does not, row 3 is padding
    assert losses.argmax_agreement(student, teacher, mask).item() == 2
    assert losses.argmax_agreement(student, teacher.log_softmax(-1)).item() == 3
    ids = teacher.topk(2, -1).indices  # a cache's top-k ids, most probable first
    assert losses.argmax_agreement(student, ids, mask).item() == 2


@pytest.mark.parametrize("alpha,eps", [(0.5, 0.1), (1.0, 0.1), (0.0, 0.1), (0.3, 0.0), (1e-3, 0.2)])
def test_dense_kd_loss_equals_fairseqs_hard_loss_plus_the_kl_in_value_and_gradient(alpha, eps):
    """The criterion's fused path: (1 - alpha) * fairseq's label-smoothed loss + alpha * KL, value and gradient
    equal to autograd through fairseq's own function and the plain KL (float64), padding rows counting for
    nothing; the KL and the teacher's row maxima come back too."""
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    torch.manual_seed(3)
    n, v, pad = 50, 37, 1
    x = torch.randn(n, v, requires_grad=True)
    teacher = torch.randn(n, v) * 4
    target = torch.randint(2, v, (n,))
    target[torch.rand(n) < 0.25] = pad
    mask = target.ne(pad).float()
    s64 = x.double().log_softmax(-1)
    t = teacher.double().log_softmax(-1)
    hard64, _ = label_smoothed_nll_loss(s64, target, eps, ignore_index=pad, reduce=True)
    kl64 = ((t.exp() * (t - s64)).sum(-1) * mask.double()).sum()
    ref = (1 - alpha) * hard64 + alpha * kl64
    ref_grad, = torch.autograd.grad(ref, x)
    s = x.log_softmax(-1)
    hard, _ = label_smoothed_nll_loss(s.detach(), target, eps, ignore_index=pad, reduce=True)
    loss, kl, zmax = losses.dense_kd_loss(teacher, s, target, mask, hard, alpha, eps)
    grad, = torch.autograd.grad(loss * 3.0, x)  # an outer scale reaches the gradient
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert kl.item() == pytest.approx(kl64.item(), rel=1e-5) and not kl.requires_grad
    assert torch.equal(zmax, teacher.amax(-1))
    assert torch.allclose(grad, 3.0 * ref_grad.float(), atol=1e-5)


def test_row_argmax_finds_a_maximum_of_every_row():
    torch.manual_seed(0)
    for n, v in ((64, 4008), (33, 101), (5, 7), (9, 17)):  # with and without a remainder past the blocks
        x = torch.randn(n, v)
        assert torch.equal(losses.row_argmax(x), x.argmax(-1))
    x = torch.zeros(4, 40)
    x[0, 3] = x[0, 30] = 2.0  # a tie: either maximum is a maximum
    x[1, 39] = 1.0  # in the remainder
    x[2, 0] = 5.0
    got = losses.row_argmax(x)
    assert got[0].item() in (3, 30) and got[1].item() == 39 and got[2].item() == 0
    assert (x.gather(1, got.unsqueeze(1)).squeeze(1) == x.amax(-1)).all()


def test_weighted_ensemble_by_hand():
    """log(w_a p_a + w_b p_b) per row, hand-computed on two tokens; a weight of 0 on a row leaves the other member's
    distribution exactly, whatever the first one's logits (even -inf)."""
    a = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])      # p_a = (1/2, 1/2), (3/4, 1/4)
    b = torch.tensor([[math.log(3.0), 0.0], [0.0, -math.inf]])  # p_b = (3/4, 1/4), (1, 0)
    w = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    got = losses.weighted_ensemble_logprobs([a, b], w).exp()
    assert torch.allclose(got[0], torch.tensor([0.25 * 0.5 + 0.75 * 0.75, 0.25 * 0.5 + 0.75 * 0.25]))
    assert torch.allclose(got[1], torch.tensor([0.75, 0.25]))
    # equal weights for every row: the plain ensemble average
    assert torch.allclose(losses.weighted_ensemble_logprobs([a, b[:, :]], torch.tensor([0.5, 0.5]))[0],
                          losses.ensemble_logprobs([a, b])[0])


@pytest.mark.parametrize("spec,teachers,loss,error", [
    ("1,2", "a.pt", "kl", "2 weights for 1 teachers"),
    ("a,b", "a.pt:b.pt", "kl", "give numbers joined by ','"),
    ("0,1", "a.pt:b.pt", "kl", "every weight must be a positive finite number"),
    ("inf,1", "a.pt:b.pt", "kl", "every weight must be a positive finite number"),
    ("1,1", "a.pt:b.pt", "mse", "it goes with --kd-loss kl"),
])
def test_teacher_weights_refused(spec, teachers, loss, error):
    from kdseq.criterions.word_kd_config import teacher_weights, word_kd_config
    from kdseq.errors import KdseqError

    with pytest.raises(KdseqError, match=re.escape(error)):
        teacher_weights(word_kd_config(teacher_path=teachers, kd_teacher_weights=spec, kd_loss=loss))
    assert teacher_weights(word_kd_config(teacher_path="a.pt:b.pt", kd_teacher_weights="1,3")) == [0.25, 0.75]
    assert teacher_weights(word_kd_config(teacher_path="a.pt:b.pt")) is None
