"""Word-level distillation losses as pure functions (imported by the criterions and the tests).

Shapes: ``student_logits`` is (N, V), one row per target position of the batch (B*T rows, padding included:
the criterion passes a ``row_mask`` that zeroes the padding rows rather than copying the others out); teacher
distributions are given either densely as log-probabilities (N, V) or sparsely as top-k (ids (N, k),
log-probabilities (N, k)). Everything is computed in float32 whatever the training precision.
"""
import torch
import torch.nn.functional as F


def soft_target_loss(student_logits, teacher_logprobs, temperature=1.0, teacher_ids=None, student_logprobs=None,
                     row_mask=None):
    """Hinton et al. 2015 soft-target loss, summed over positions: T^2 * KL(p_T^teacher || p_T^student).

    With T = 1 this is Kim & Rush 2016 word-level KD (up to the teacher's entropy, a constant for the student).
    ``teacher_logprobs`` are normalised log-probabilities at T = 1, re-tempered here when T != 1
    (log_softmax(logp / T) equals log_softmax(z / T) for logits z). With ``teacher_ids`` (N, k) the teacher is its
    top-k, renormalised per token, and the KL runs over those k tokens only. ``student_logprobs`` (log_softmax of
    the student's logits, as the hard loss already computed them) saves a second softmax over the vocabulary at
    T = 1. ``row_mask`` (N,) zeroes rows (padding), so callers need not copy the non-padding rows out.
    """
    if student_logprobs is not None and temperature == 1.0:
        s = student_logprobs.float()
    else:
        s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    t = teacher_logprobs.float()
    if temperature != 1.0:
        t = F.log_softmax(t / temperature, dim=-1)
    if teacher_ids is not None:
        s = s.gather(-1, teacher_ids.long())
    kl = (t.exp() * (t - s)).sum(-1)
    if row_mask is not None:
        kl = kl * row_mask
    return kl.sum() * temperature**2


def logit_mse_loss(student_logits, teacher_logits, row_mask=None):
    """Tang et al. 2019: squared error between student and teacher logits, mean over the vocabulary, summed over
    positions (``row_mask`` zeroes padding rows)."""
    se = F.mse_loss(student_logits.float(), teacher_logits.float(), reduction="none").mean(-1)
    if row_mask is not None:
        se = se * row_mask
    return se.sum()


def topk_logprobs(logprobs, k):
    """(ids, log-probabilities) of the k most probable tokens, renormalised to sum to one per position."""
    values, ids = logprobs.float().topk(k, dim=-1)
    return ids, values - values.logsumexp(-1, keepdim=True)


def ensemble_logprobs(logits_list, temperature=1.0):
    """Average of the members' probabilities (not logits), as fairseq's ensemble generation does; returned as
    log-probabilities at temperature 1 when ``temperature`` is 1."""
    if len(logits_list) == 1:
        return F.log_softmax(logits_list[0].float() / temperature, dim=-1)
    lp = torch.stack([F.log_softmax(x.float() / temperature, dim=-1) for x in logits_list])
    return lp.logsumexp(0) - torch.log(torch.tensor(float(len(logits_list)), device=lp.device))


def annealed_gold_weight(num_updates, total_updates):
    """Clark et al. 2019 (BAM!) teacher annealing: the gold weight lambda rises linearly from 0 to 1 over
    ``total_updates``; the target is lambda * gold + (1 - lambda) * teacher."""
    if total_updates <= 0:
        raise ValueError("teacher annealing needs a positive number of updates")
    return min(max(num_updates / total_updates, 0.0), 1.0)


@torch.no_grad()
def argmax_agreement(student_logits, teacher_ids_or_logprobs, row_mask=None):
    """Number of positions (rows of ``row_mask``) where the student's argmax equals the teacher's; the teacher is
    given as top-k ids (most probable first) or as scores over the vocabulary."""
    s = student_logits.argmax(-1)
    t = teacher_ids_or_logprobs[:, 0] if teacher_ids_or_logprobs.dtype in (torch.int16, torch.int32, torch.int64) \
        else teacher_ids_or_logprobs.argmax(-1)
    same = s == t.long()
    return (same & row_mask.bool()).sum() if row_mask is not None else same.sum()
