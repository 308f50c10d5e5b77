"""The divergences of --kd-divergence and the on-policy schedule, against independent float64 formulas and hand
values (GKD: Agarwal et al. 2024; skew KL: Ko et al. 2024)."""
import math

import pytest
import torch

from kdseq import losses
from kdseq.onpolicy import on_policy_share


def reference(kind, p_logits, q_logits, beta, T):
    """The divergence written from its definition in float64, from probabilities (not log-probabilities): P the
    teacher, Q the student, both softmaxes at temperature T; summed over rows, times T^2."""
    P = torch.softmax(p_logits.double() / T, -1)
    Q = torch.softmax(q_logits.double() / T, -1)

    def kl(a, b):
        return (a * torch.log(a / b)).sum(-1)

    if kind == "forward":
        d = kl(P, Q)
    elif kind == "reverse":
        d = kl(Q, P)
    elif kind == "jsd":
        M = beta * P + (1 - beta) * Q
        d = beta * kl(P, M) + (1 - beta) * kl(Q, M)
    else:
        d = kl(P, beta * P + (1 - beta) * Q)
    return d.sum() * T * T


@pytest.mark.parametrize("kind,beta,T", [("forward", 0.5, 1.0), ("reverse", 0.5, 1.0), ("jsd", 0.1, 1.0),
                                         ("jsd", 0.5, 2.0), ("jsd", 0.9, 1.0), ("skew", 0.1, 1.0),
                                         ("skew", 0.3, 2.0), ("reverse", 0.5, 0.5)])
def test_divergence_equals_the_float64_formula_in_value_and_gradient(kind, beta, T):
    torch.manual_seed(1)
    teacher = torch.randn(6, 11) * 3
    student = (torch.randn(6, 11) * 2).requires_grad_()
    got = losses.divergence(student, torch.log_softmax(teacher, -1), kind, beta, T)
    got.backward()
    s64 = student.detach().double().requires_grad_()
    want = reference(kind, teacher, s64, beta, T)
    want.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    assert torch.allclose(student.grad.double(), s64.grad, atol=1e-6, rtol=1e-4)


def test_divergence_on_a_hand_computed_pair():
    """P = (1/2, 1/2), Q = (1/4, 3/4): KL(P||Q) = 1/2 ln 2 + 1/2 ln(2/3); KL(Q||P) = 1/4 ln(1/2) + 3/4 ln(3/2);
    JSD(1/2) with M = (3/8, 5/8)."""
    p, q = torch.tensor([[0.5, 0.5]]).log(), torch.tensor([[0.25, 0.75]]).log()
    fkl = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    rkl = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    jsd = 0.5 * (0.5 * math.log(0.5 / 0.375) + 0.5 * math.log(0.5 / 0.625)) + \
        0.5 * (0.25 * math.log(0.25 / 0.375) + 0.75 * math.log(0.75 / 0.625))
    assert losses.divergence(q, p, "forward").item() == pytest.approx(fkl, abs=1e-7)
    assert losses.divergence(q, p, "reverse").item() == pytest.approx(rkl, abs=1e-7)
    assert losses.divergence(q, p, "jsd", 0.5).item() == pytest.approx(jsd, abs=1e-7)


def test_jsd_tends_to_forward_and_reverse_kl_at_its_limits():
    """JSD(beta)/beta -> KL(P||Q) as beta -> 0 and JSD(beta)/(1 - beta) -> KL(Q||P) as beta -> 1 (GKD); at beta = 0
    and 1 the loss is those KLs themselves, as GKD defines its endpoints."""
    torch.manual_seed(2)
    teacher = torch.log_softmax(torch.randn(5, 7) * 3, -1)
    student = torch.randn(5, 7)
    fkl = losses.divergence(student, teacher, "forward").item()
    rkl = losses.divergence(student, teacher, "reverse").item()
    assert fkl != pytest.approx(rkl, rel=0.2)  # the two limits differ, so the checks below can tell them apart
    errors = []  # relative errors of the scaled JSD, near each end, as beta approaches it
    for eps in (1e-2, 1e-3, 1e-4):
        errors.append((abs(losses.divergence(student, teacher, "jsd", eps).item() / eps / fkl - 1),
                       abs(losses.divergence(student, teacher, "jsd", 1 - eps).item() / eps / rkl - 1)))
    for end in (0, 1):
        assert errors[2][end] < 0.005, errors
        assert errors[1][end] < errors[0][end] / 5, errors  # O(eps), down to float32's rounding at 1e-4
    assert losses.divergence(student, teacher, "jsd", 0.0).item() == fkl
    assert losses.divergence(student, teacher, "jsd", 1.0).item() == rkl
    assert losses.divergence(student, teacher, "skew", 0.0).item() == fkl


def test_skew_kl_is_bounded_by_log_one_over_beta_and_jsd_by_log_2():
    teacher = torch.log_softmax(torch.tensor([[30.0, 0.0, 0.0]]), -1)  # nearly one-hot, far from the student
    student = torch.tensor([[0.0, 30.0, 0.0]])
    assert losses.divergence(student, teacher, "forward").item() > 25
    assert losses.divergence(student, teacher, "skew", 0.1).item() <= math.log(10) + 1e-6
    assert losses.divergence(student, teacher, "jsd", 0.5).item() <= math.log(2) + 1e-6


def test_padding_rows_are_masked():
    teacher = torch.log_softmax(torch.randn(4, 5), -1)
    student = torch.randn(4, 5)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    want = losses.divergence(student[[0, 2]], teacher[[0, 2]], "jsd", 0.3)
    assert losses.divergence(student, teacher, "jsd", 0.3, row_mask=mask).item() == pytest.approx(want.item())


def test_unknown_divergence_is_refused():
    with pytest.raises(ValueError, match="unknown divergence 'tv'"):
        losses.divergence(torch.zeros(1, 2), torch.zeros(1, 2), "tv")


def test_on_policy_schedules_by_hand():
    assert on_policy_share(0.5, "fixed", 0, 100) == 0.5 and on_policy_share(0.5, "fixed", 100, 100) == 0.5
    assert [on_policy_share(0.8, "linear", t, 100) for t in (0, 25, 100, 200)] == [0.0, 0.2, 0.8, 0.8]
    assert on_policy_share(1.0, "exp", 0, 100) == 0.0
    assert on_policy_share(1.0, "exp", 100, 100) == pytest.approx(1.0)
    # halfway the dataset's share is 0.01 ** 0.5 = 0.1 of the way from 1 to 0.01: lambda = (1 - 0.1) / 0.99
    assert on_policy_share(1.0, "exp", 50, 100) == pytest.approx(0.9 / 0.99)
    assert on_policy_share(0.0, "linear", 50, 100) == 0.0
