"""Word-level knowledge distillation: ``--criterion word_kd``.

loss = (1 - alpha) * hard + alpha * soft, where
- hard is fairseq's label-smoothed cross-entropy on the gold target (imported, not re-implemented);
- soft is T^2 * KL(teacher_T || student_T) (Hinton et al. 2015; T = 1 is Kim & Rush 2016 word-KD), or the
  mean squared error between student and teacher logits (Tang et al. 2019, ``--kd-loss mse``);
- with ``--kd-anneal`` alpha falls linearly from 1 to 0 over the annealing updates: the target moves from the
  teacher to the gold data (Clark et al. 2019, BAM! teacher annealing; needs ``--task translation_kd``, which
  tells the criterion the update number).
The teacher is a list of sources, each giving a distribution at every target position of the batch:
- an online teacher (``--teacher-path a.pt[:b.pt...]``): frozen, in eval mode, on the student's device, kept out
  of the student's module tree. An ensemble's distribution is the average of its members' probabilities at
  T = 1, then tempered by the student's T (the cache stores the same average, so both agree); with
  ``--kd-loss mse`` an ensemble's logits are averaged. It reads the batch's ``teacher_net_input`` when the batch
  carries one (a teacher reading another source, e.g. ``--task headline_kd``), else the student's ``net_input``;
  with ``--teacher-source-data A:B`` each teacher of ``--teacher-path a.pt:b.pt`` reads its own
  (``teacher_net_inputs``) and their probabilities are averaged row by row (``--kd-teacher-weights``), a teacher
  whose source is empty on a row taking no part there;
- a cache (``--teacher-cache DIR`` from ``kdseq-cache-teacher``): the stored top-k of each subset, looked up by
  the batch's subset name (``--task translation_kd`` tags batches with it) and sample ids; every subset's cache
  is checked against its data when the criterion is built, before any update.
``--kd-topk K`` keeps the teacher's K most probable tokens per position, renormalised. ``--kd-divergence`` chooses
the soft loss's divergence: forward KL (the default, above), reverse KL, GKD's generalized JSD(beta) or a skew KL
(:func:`kdseq.losses.divergence`). ``--kd-on-policy LAMBDA`` trains on the student's own samples for that share of
the rows, scored by the online teacher (GKD, ImitKD: :mod:`kdseq.onpolicy`). Padding is masked; the
losses are computed in float32. The soft loss is logged as ``kd_loss`` in bits per token (KL) or as ``kd_mse``
(the squared logit error per token, averaged over the vocabulary: Tang et al.'s squared L2 divided by V).
"""
import math

import torch
from fairseq import metrics
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion, \
    label_smoothed_nll_loss

from kdseq import losses
from kdseq.criterions.word_kd_config import WordKDConfig, check_config, teacher_weights
from kdseq.decoding.search import Search
from kdseq.errors import KdseqError
from kdseq.onpolicy import OnPolicy, Sampler
from kdseq.soft_targets import CachedTeacher, OnlineTeacher
from kdseq.teacher import Teacher


@register_criterion("word_kd", dataclass=WordKDConfig)
class WordKDCriterion(LabelSmoothedCrossEntropyCriterion):
    """(1 - alpha) * fairseq's label-smoothed cross-entropy + alpha * a soft loss to the teacher (Hinton et al.
    2015; Kim & Rush 2016 word-KD at T = 1; Tang et al. 2019 logit MSE; Clark et al. 2019 annealing). fairseq
    builds it from its :class:`WordKDConfig` (``cfg``); :func:`word_kd_config` makes one by hand."""

    def __init__(self, cfg: WordKDConfig, task):
        super().__init__(task, cfg.sentence_avg, cfg.label_smoothing, cfg.ignore_prefix_size, cfg.report_accuracy)
        check_config(cfg, task)
        self.cfg = cfg
        self.anneal_updates = (cfg.kd_anneal_updates or cfg.max_update) if cfg.kd_anneal else 0
        self.kd_alpha, self.kd_temperature, self.kd_loss = cfg.kd_alpha, cfg.kd_temperature, cfg.kd_loss
        self.kd_topk, self.kd_anneal = cfg.kd_topk, cfg.kd_anneal
        self.num_updates = None
        # plain attributes holding plain objects: not submodules, so never optimised, cast, wrapped or saved
        if cfg.teacher_path:
            teacher = Teacher.for_task(cfg.teacher_path, task, cfg.teacher_data or None)
            n_sources = getattr(task, "teacher_source_count", 1)
            if n_sources > 1 and n_sources != len(teacher.models):
                raise KdseqError(f"--teacher-source-data gives {n_sources} sources, --teacher-path {len(teacher.models)} "
                                 "teachers: give one teacher per source, in the same order")
            if n_sources > 1 and cfg.kd_loss == "mse":
                raise KdseqError("--kd-loss mse with teachers reading their own sources: their probabilities are "
                                 "averaged row by row, so use --kd-loss kl")
            self.sources = [OnlineTeacher(teacher, teacher_weights(cfg), own_sources=n_sources > 1)]
        else:
            subsets = [cfg.train_subset] + ([] if cfg.disable_validation else
                                            [s for s in str(cfg.valid_subset).split(",") if s])
            self.sources = [CachedTeacher(cfg.teacher_cache, task, list(dict.fromkeys(subsets)), cfg.kd_topk)]
        # the common case, one live teacher's full distribution at T = 1: hard and soft losses in one pass over
        # (B*T, V) with one gradient buffer (losses.dense_kd_loss)
        self.fused = bool(cfg.teacher_path) and len(self.teacher.models) == 1 and cfg.kd_loss == "kl" and \
            not cfg.kd_topk and cfg.kd_temperature == 1.0 and cfg.kd_divergence == "forward"
        self.on_policy = None
        if cfg.kd_on_policy > 0:
            settings = Search(beam=1, sampling=True, temperature=cfg.kd_sample_temperature,
                              max_len_a=cfg.kd_sample_max_len_a, max_len_b=cfg.kd_sample_max_len_b)
            self.on_policy = OnPolicy(cfg.kd_on_policy, cfg.kd_on_policy_schedule,
                                      cfg.kd_on_policy_updates or cfg.max_update,
                                      Sampler(task.target_dictionary, settings), self.padding_idx,
                                      task.target_dictionary.eos())

    @property
    def teacher(self):
        """The online teacher, if the only source is one (tests and tools read it)."""
        src = self.sources[0]
        return src.teacher if isinstance(src, OnlineTeacher) else None

    def set_num_updates(self, num_updates):
        self.num_updates = num_updates

    def current_alpha(self):
        if not self.kd_anneal:
            return self.kd_alpha
        return 1.0 - losses.annealed_gold_weight(self.num_updates or 0, self.anneal_updates)  # None: no update yet

    def soft_from_logits(self, student, teacher_list, student_lp, mask):
        """(soft loss summed over the rows of ``mask``, argmax agreement count); inputs are (B*T, V) rows."""
        T = self.kd_temperature
        if self.kd_loss == "mse":
            teacher = teacher_list[0].float() if len(teacher_list) == 1 else \
                torch.stack([t.float() for t in teacher_list]).mean(0)
            return losses.logit_mse_loss(student, teacher, mask), losses.argmax_agreement(student, teacher, mask)
        lp = losses.ensemble_logprobs(teacher_list)  # formed at T = 1, tempered in the loss (as from the cache)
        if self.cfg.kd_divergence != "forward":
            soft = losses.divergence(student, lp, self.cfg.kd_divergence, self.cfg.kd_beta, T, mask)
            return soft, losses.argmax_agreement(student, lp, mask)
        if self.kd_topk:
            ids, lp = losses.topk_logprobs(lp, self.kd_topk)
            soft = losses.soft_target_loss(student, lp, T, teacher_ids=ids, student_logprobs=student_lp, row_mask=mask)
            return soft, losses.argmax_agreement(student, ids, mask)
        soft = losses.soft_target_loss(student, lp, T, student_logprobs=student_lp, row_mask=mask)
        return soft, losses.argmax_agreement(student, lp, mask)

    def gold_losses(self, model, sample, net_output, alpha):
        """(loss, hard, nll, soft, agreement) of a gold batch."""
        # the parent's compute_loss, keeping the student's log-probabilities to reuse in the soft loss at T = 1
        lprobs, flat_target = self.get_lprobs_and_target(model, net_output, sample)
        # fused: fairseq's loss gives the hard loss's value, dense_kd_loss its gradient (with the soft loss's)
        hard, nll = label_smoothed_nll_loss(lprobs.detach() if self.fused else lprobs, flat_target, self.eps,
                                            ignore_index=self.padding_idx, reduce=True)
        logits = net_output[0]
        if self.ignore_prefix_size > 0:
            logits = logits[:, self.ignore_prefix_size:, :]
        # Work on all B*T rows with a padding mask: copying the non-padding rows out of (B*T, V) tensors (and
        # scattering their gradients back) costs more than the padded rows' arithmetic.
        student = logits.reshape(-1, logits.size(-1))
        mask = flat_target.ne(self.padding_idx).to(torch.float32)
        if self.fused:
            z = self.sources[0].scores(sample, student, self.ignore_prefix_size)[0]
            loss, soft, zmax = losses.dense_kd_loss(z, lprobs, flat_target, mask, hard, alpha, self.eps)
            return loss, hard, nll, soft, losses.argmax_agreement(student, z, mask, teacher_max=zmax)
        soft, agree = 0.0, 0
        for src in self.sources:  # several sources: their soft losses are averaged
            s, a = src.soft_loss(self, sample, student, lprobs, mask, self.ignore_prefix_size)
            soft, agree = soft + s / len(self.sources), agree + a
        return (1.0 - alpha) * hard + alpha * soft, hard, nll, soft, agree / len(self.sources)

    def on_policy_losses(self, sample, net_output, on_rows, alpha):
        """(loss, hard, nll, soft, agreement) of a batch with sampled rows. The samples' lengths differ from the
        gold lengths fairseq bucketed the batch by, so most of its padded cells are padding (4x the tokens in a
        batch of three-token targets): the losses are computed on the real tokens only, copied out. A sampled
        target has no gold token: the hard loss covers the gold rows only."""
        logits = net_output[0].reshape(-1, net_output[0].size(-1))
        flat_target = sample["target"].reshape(-1)
        keep = flat_target.ne(self.padding_idx).nonzero(as_tuple=True)[0]
        student = logits[keep]
        lprobs = torch.log_softmax(student.float(), dim=-1)  # fairseq's get_normalized_probs, on these rows
        gold = sample["target"].masked_fill(on_rows.unsqueeze(1), self.padding_idx).reshape(-1)[keep]
        hard, nll = label_smoothed_nll_loss(lprobs, gold, self.eps, ignore_index=self.padding_idx, reduce=True)
        teacher = [t[keep] for t in self.sources[0].scores(sample, logits, 0)]  # online (a cache is refused)
        soft, agree = self.soft_from_logits(student, teacher, lprobs, torch.ones(len(keep), device=keep.device))
        return (1.0 - alpha) * hard + alpha * soft, hard, nll, soft, agree

    def forward(self, model, sample, reduce=True):
        on_rows, sampled = None, 0
        if self.on_policy is not None and model.training:  # validation scores the gold targets
            sample, on_rows, sampled = self.on_policy.resample(model, sample, self.num_updates)
        net_output = model(**sample["net_input"])
        alpha = self.current_alpha()
        if on_rows is not None:
            loss, hard, nll, soft, agree = self.on_policy_losses(sample, net_output, on_rows, alpha)
        else:
            loss, hard, nll, soft, agree = self.gold_losses(model, sample, net_output, alpha)
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data, "nll_loss": nll.data, "hard_loss": hard.data,
            "kd_mse" if self.kd_loss == "mse" else "kd_loss": soft.data,
            "kd_agree": agree.data if torch.is_tensor(agree) else agree, "kd_alpha": alpha,
            "ntokens": sample["ntokens"], "nsentences": sample["target"].size(0), "sample_size": sample_size,
        }
        if self.on_policy is not None and model.training:
            logging_output.update(kd_on_policy_rows=0 if on_rows is None else int(on_rows.sum()),
                                  kd_sampled_tokens=sampled)
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs):
        super().reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        ntokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        for key in ("hard_loss", "kd_loss"):  # bits per token, as fairseq logs its losses
            if any(key in log for log in logging_outputs):
                total = sum(log.get(key, 0) for log in logging_outputs)
                metrics.log_scalar(key, total / sample_size / math.log(2), sample_size, round=3)
        if any("kd_mse" in log for log in logging_outputs):  # its own unit: squared logit error per token
            total = sum(log.get("kd_mse", 0) for log in logging_outputs)
            metrics.log_scalar("kd_mse", total / sample_size, sample_size, round=4)
        agree = sum(log.get("kd_agree", 0) for log in logging_outputs)
        metrics.log_scalar("kd_agree", 100.0 * agree / max(ntokens, 1), ntokens, round=2)
        if any("kd_on_policy_rows" in log for log in logging_outputs):  # the share of rows, their mean length
            rows = sum(log.get("kd_on_policy_rows", 0) for log in logging_outputs)
            sentences = sum(log.get("nsentences", 0) for log in logging_outputs)
            metrics.log_scalar("kd_on_policy", 100.0 * rows / max(sentences, 1), sentences, round=2)
            tokens = sum(log.get("kd_sampled_tokens", 0) for log in logging_outputs)
            metrics.log_scalar("kd_sample_len", tokens / max(rows, 1), rows, round=2)
        alphas = [log["kd_alpha"] for log in logging_outputs if "kd_alpha" in log]
        if alphas:
            metrics.log_scalar("kd_alpha", sum(alphas) / len(alphas), weight=0, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return False
