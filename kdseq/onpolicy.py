"""On-policy distillation for encoder-decoder models (GKD, Agarwal et al. 2024; ImitKD, Lin et al. 2020): a share
of each training batch gets targets that the student samples itself, which the teacher then scores token by token
(``--criterion word_kd --kd-on-policy LAMBDA``). Word-level KD and seq-KD train only on prefixes the student never
writes; here it learns on its own prefixes, as it decodes at test time.

Per update:
1. each row of the batch is on-policy with probability lambda_t (:func:`on_policy_share`: fixed, or rising to
   lambda on an ImitKD-style schedule, the dataset's share decaying linearly or exponentially);
2. the student samples those rows' targets with fairseq's own generator (sampling from the full distribution at
   ``--kd-sample-temperature``, beam 1, dropout off, no gradient, at most ``a * source + b`` tokens before EOS with
   the batch's padded source length, as fairseq-generate's --max-len-a/b), from torch's random
   state, which fairseq-train seeds per update (``--seed``): the same seed gives the same samples;
3. the batch is collated again (:func:`recollate`) as fairseq's LanguagePairDataset collates one: targets padded
   on the right and ended by EOS, ``prev_output_tokens`` the target shifted right behind EOS; the other rows keep
   their gold targets. A teacher reading its own source (``--task headline_kd``) gets the same decoder input.
The student and the teacher then run on that batch as on a gold one; the hard loss covers the gold rows only (a
sampled target has no gold token to match), the divergence covers every row.
"""
import torch

from kdseq.decoding.generator import build_generator

ON_POLICY_SCHEDULES = ("fixed", "linear", "exp")
EXP_FLOOR = 0.01  # the exponential schedule: the dataset's share falls to 1% of its start over the schedule


def on_policy_share(lam, schedule, num_updates, total_updates):
    """lambda_t, the share of on-policy rows at update ``num_updates``: ``lam`` throughout (``fixed``), or rising
    from 0 to ``lam`` over ``total_updates`` as the dataset's share 1 - lambda_t / lam decays: linearly (``linear``)
    or exponentially, to EXP_FLOOR at the end (``exp``; ImitKD decays its dataset share exponentially)."""
    if schedule == "fixed" or lam == 0.0:
        return lam
    t = min(max((num_updates or 0) / total_updates, 0.0), 1.0)
    if schedule == "linear":
        return lam * t
    return lam * (1.0 - EXP_FLOOR ** t) / (1.0 - EXP_FLOOR)


class Sampler:
    """The student's own outputs for some rows of a batch, from fairseq's SequenceGenerator with the Sampling
    search. A plain object (not a module), so the student it wraps never enters the criterion's module tree."""

    def __init__(self, tgt_dict, search):
        """``search``: a sampling :class:`kdseq.decoding.search.Search` (temperature, at most ``max_len_a * source
        length + max_len_b`` tokens before EOS, the batch's padded source length as fairseq's generator counts it)."""
        if not search.sampling:
            raise ValueError("Sampler needs a sampling Search")
        self.tgt_dict, self.search = tgt_dict, search
        self._model = self._generator = None

    def generator(self, model):
        """The generator of ``model``, built once (again only if another model is given)."""
        if self._model is not model:
            self._generator = build_generator([model], self.tgt_dict, self.search)
            self._model = model
        return self._generator

    def sample(self, model, net_input, rows):
        """The sampled target of each of ``rows`` (1-D long tensors ending in EOS), decoded from the student's
        source ``net_input`` in eval mode (no dropout) and without gradient."""
        model = getattr(model, "module", model)  # under DDP, the wrapped model
        sub = {"net_input": {"src_tokens": net_input["src_tokens"][rows],
                             "src_lengths": net_input["src_lengths"][rows]}}
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                hypos = self.generator(model)._generate(sub)
        finally:
            model.train(was_training)
        return [h[0]["tokens"] for h in hypos]


def recollate(sample, rows, sampled, pad, eos):
    """A copy of ``sample`` whose ``rows`` have the ``sampled`` targets: ``target`` and ``prev_output_tokens``
    collated again (right-padded, EOS last; EOS first in the decoder input), ``ntokens`` recounted, the teacher's
    own net input (if any) given the same decoder input. Returns (the new sample, the (B,) bool mask of rows on
    policy)."""
    from fairseq.data import data_utils

    target = sample["target"]
    on = torch.zeros(target.size(0), dtype=torch.bool, device=target.device)
    on[rows] = True
    by_row = dict(zip(rows.tolist(), sampled))
    seqs = [by_row[i].to(target.device) if i in by_row else target[i][target[i].ne(pad)]
            for i in range(target.size(0))]
    new_target = data_utils.collate_tokens(seqs, pad, eos, left_pad=False)
    prev = data_utils.collate_tokens(seqs, pad, eos, left_pad=False, move_eos_to_beginning=True)
    out = dict(sample, target=new_target, ntokens=int(new_target.ne(pad).sum()),
               net_input=dict(sample["net_input"], prev_output_tokens=prev))
    if sample.get("teacher_net_input") is not None:
        out["teacher_net_input"] = dict(sample["teacher_net_input"], prev_output_tokens=prev)
    if sample.get("teacher_net_inputs") is not None:  # several teachers, each reading its own source
        out["teacher_net_inputs"] = [dict(t, prev_output_tokens=prev) for t in sample["teacher_net_inputs"]]
    return out, on


class OnPolicy:
    """Chooses a batch's on-policy rows, samples them and collates the batch again (the module docstring)."""

    def __init__(self, lam, schedule, total_updates, sampler, pad, eos):
        self.lam, self.schedule, self.total_updates = lam, schedule, total_updates
        self.sampler, self.pad, self.eos = sampler, pad, eos

    def share(self, num_updates):
        return on_policy_share(self.lam, self.schedule, num_updates, self.total_updates)

    def resample(self, model, sample, num_updates):
        """(the batch to train on, the (B,) mask of its on-policy rows or None when it has none, the number of
        sampled tokens)."""
        share = self.share(num_updates)
        n = sample["target"].size(0)
        if share <= 0.0:
            return sample, None, 0
        if torch.distributed.is_available() and torch.distributed.is_initialized() and \
                torch.distributed.get_world_size() > 1:
            # fairseq-train seeds every rank alike at each update: each rank draws its own rows and samples from
            # a stream of that seed and its rank (the same again on a rerun)
            torch.manual_seed(int(torch.randint(0, 2 ** 62, (1,))) + torch.distributed.get_rank())
        chosen = torch.rand(n) < share  # torch's state: seeded by fairseq-train per update
        rows = chosen.nonzero(as_tuple=True)[0].to(sample["target"].device)
        if len(rows) == 0:
            return sample, None, 0
        sampled = self.sampler.sample(model, sample["net_input"], rows)
        new, on = recollate(sample, rows, sampled, self.pad, self.eos)
        return new, on, sum(len(s) for s in sampled)
