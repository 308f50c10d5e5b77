"""Where word-level distillation's soft targets come from (``--criterion word_kd``): a live teacher
(:class:`OnlineTeacher`, ``--teacher-path``) or the teacher's stored top-k (:class:`CachedTeacher`,
``--teacher-cache``). Both are plain objects, never submodules of the criterion: fairseq's trainer would otherwise
cast, optimise, wrap and save them with the student."""
import torch

from kdseq import losses
from kdseq.cache import TeacherCache
from kdseq.errors import KdseqError


class OnlineTeacher:
    """A live teacher (one checkpoint or an ensemble) as a source of soft targets. With ``weights`` (one per
    member, summing to 1) or ``own_sources`` (each member reads its own source, ``teacher_net_inputs``), the
    members' probabilities are averaged here, row by row: a member whose source is empty on a row (EOS alone)
    takes no part there, the others' weights renormalised. :meth:`scores` then gives that average as one member's
    log-probabilities."""

    def __init__(self, teacher, weights=None, own_sources=False):
        self.teacher, self.weights, self.own_sources = teacher, weights, own_sources

    def scores(self, sample, student, prefix):
        """Each member's logits for the batch (or their weighted average), as (B*T, V) rows aligned with the
        student's."""
        self.teacher.to(student.device)
        if self.own_sources:
            net_input = sample["teacher_net_inputs"]
        else:
            net_input = sample.get("teacher_net_input") or sample["net_input"]
        raw = self.teacher(net_input)
        teacher = [t[:, prefix:, :].reshape(-1, t.size(-1)) for t in raw]
        if teacher[0].shape != student.shape:
            raise KdseqError(f"the teacher gave {tuple(teacher[0].shape)} scores where the student has "
                             f"{tuple(student.shape)}: teacher and student must score the same target")
        if not self.own_sources and self.weights is None:
            return teacher
        w = torch.tensor(self.weights or [1.0 / len(teacher)] * len(teacher), device=student.device)
        if self.own_sources:  # (B, M): a member reads nothing on a row whose source is EOS alone
            present = torch.stack([x["src_lengths"].to(student.device) > 1 for x in net_input], dim=1)
            w = w * present
            w = w / w.sum(1, keepdim=True)
            w = w.repeat_interleave(raw[0].size(1) - prefix, dim=0)  # (B*T, M), the rows' order
        return [losses.weighted_ensemble_logprobs(teacher, w)]

    def soft_loss(self, crit, sample, student, student_lp, mask, prefix):
        return crit.soft_from_logits(student, self.scores(sample, student, prefix), student_lp, mask)


class CachedTeacher:
    """The teacher's stored top-k (kdseq-cache-teacher), looked up by subset and sample id."""

    def __init__(self, cache_dir, task, subsets, topk):
        self.cache_dir, self.caches = cache_dir, {}
        for subset in subsets:  # all checked now: a wrong cache fails before the first update, not after it
            cache = TeacherCache(cache_dir, subset)
            if topk > cache.k:
                raise KdseqError(f"--kd-topk {topk} exceeds the cache's k = {cache.k} ({cache.path})")
            if subset not in task.datasets:
                task.load_dataset(subset)
            cache.check(task.dataset(subset), task.target_dictionary)
            self.caches[subset] = cache

    def soft_loss(self, crit, sample, student, student_lp, mask, prefix):
        subset = sample.get("kd_subset")
        if subset is None:
            raise KdseqError("--teacher-cache needs --task translation_kd (its batches name their subset)")
        if subset not in self.caches:
            raise KdseqError(f"--teacher-cache {self.cache_dir}: no cache for subset {subset!r}: build it with "
                             f"kdseq-cache-teacher --splits {subset}")
        cache = self.caches[subset]
        rows = mask.bool().nonzero(as_tuple=True)[0]
        lengths = sample["target"].ne(crit.padding_idx).sum(1).tolist()
        ids, lp = cache.lookup(sample["id"].tolist(), lengths, student.device)
        if crit.kd_topk and crit.kd_topk < cache.k:
            ids, lp = ids[:, : crit.kd_topk], lp[:, : crit.kd_topk]
            lp = lp - lp.logsumexp(-1, keepdim=True)
        full_ids = ids.new_zeros(student.size(0), ids.size(1))
        full_ids[rows] = ids
        full_lp = lp.new_zeros(student.size(0), lp.size(1))
        full_lp[rows] = lp
        soft = losses.soft_target_loss(student, full_lp, crit.kd_temperature, teacher_ids=full_ids,
                                       student_logprobs=student_lp, row_mask=mask)
        return soft, losses.argmax_agreement(student, full_ids, mask)
