"""The configuration of ``--criterion word_kd`` (:class:`WordKDConfig`, its flags) and the checks of its values,
each refusal one line naming the flag (fairseq-train exits 2)."""
import math
from dataclasses import dataclass, field

from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterionConfig
from fairseq.dataclass import ChoiceEnum
from omegaconf import II

from kdseq import losses
from kdseq.cache import check_unsharded
from kdseq.errors import KdseqError
from kdseq.onpolicy import ON_POLICY_SCHEDULES
from kdseq.tasks.translation_kd import TranslationKDTask

KD_LOSS_CHOICES = ChoiceEnum(["kl", "mse"])
DIVERGENCE_CHOICES = ChoiceEnum(list(losses.DIVERGENCES))
SCHEDULE_CHOICES = ChoiceEnum(list(ON_POLICY_SCHEDULES))


@dataclass
class WordKDConfig(LabelSmoothedCrossEntropyCriterionConfig):
    teacher_path: str = field(default="", metadata={"help": "teacher checkpoint, or several joined by ':' "
                                                            "(an ensemble, probabilities averaged)"})
    kd_teacher_weights: str = field(default="", metadata={
        "help": "weights of the teachers of --teacher-path, joined by ',' (default: equal): each one's share of the "
                "averaged probabilities; on a row where a teacher's own source is empty (--task headline_kd "
                "--teacher-source-data A:B) the others' weights are renormalised"})
    teacher_data: str = field(default="", metadata={"help": "the teacher's binarized data folder (for its "
                                                            "dictionary) if it moved since training"})
    teacher_cache: str = field(default="", metadata={"help": "folder written by kdseq-cache-teacher: read the "
                                                             "teacher's top-k from it instead of running a teacher"})
    kd_alpha: float = field(default=0.5, metadata={"help": "weight of the soft loss: (1-alpha)*hard + alpha*soft"})
    kd_temperature: float = field(default=1.0, metadata={"help": "softmax temperature T of teacher and student "
                                                                 "(the KL is scaled by T^2)"})
    kd_loss: KD_LOSS_CHOICES = field(default="kl", metadata={"help": "soft loss: kl (soft targets) or mse "
                                                                     "(squared error of logits)"})
    kd_topk: int = field(default=0, metadata={"help": "keep the teacher's top-k tokens per position, "
                                                      "renormalised (0: the full distribution)"})
    kd_anneal: bool = field(default=False, metadata={"help": "BAM! teacher annealing: alpha falls linearly from 1 "
                                                             "to 0 (needs --task translation_kd)"})
    kd_anneal_updates: int = field(default=0, metadata={"help": "updates over which to anneal (0: --max-update)"})
    kd_divergence: DIVERGENCE_CHOICES = field(default="forward", metadata={
        "help": "soft loss with --kd-loss kl: forward KL(teacher||student), reverse KL(student||teacher), jsd "
                "(GKD's generalized JSD(beta)) or skew (KL(teacher || beta*teacher + (1-beta)*student))"})
    kd_beta: float = field(default=0.5, metadata={"help": "beta of --kd-divergence jsd (0: forward KL, 1: reverse "
                                                          "KL) and skew (the teacher's share of the mixture)"})
    kd_on_policy: float = field(default=0.0, metadata={
        "help": "share lambda of each batch's rows whose target the student samples itself and the online teacher "
                "scores (GKD, ImitKD; 0: off)"})
    kd_on_policy_schedule: SCHEDULE_CHOICES = field(default="fixed", metadata={
        "help": "lambda fixed, or rising from 0 to --kd-on-policy over --kd-on-policy-updates as the dataset's "
                "share decays linearly or exponentially (ImitKD)"})
    kd_on_policy_updates: int = field(default=0, metadata={"help": "length of the schedule (0: --max-update)"})
    kd_sample_temperature: float = field(default=1.0, metadata={"help": "temperature of the student's samples"})
    kd_sample_max_len_a: float = field(default=1.2, metadata={"help": "samples are at most a*source+b tokens: a"})
    kd_sample_max_len_b: int = field(default=10, metadata={"help": "samples are at most a*source+b tokens: b"})
    max_update: int = II("optimization.max_update")
    train_subset: str = II("dataset.train_subset")
    valid_subset: str = II("dataset.valid_subset")
    disable_validation: bool = II("dataset.disable_validation")


def _finite(name, value, lo=None, hi=None, lo_open=False):
    bad = not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo)) or \
        (hi is not None and value > hi)
    if bad:
        rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'}{']' if hi is not None else ')'}"
        raise KdseqError(f"{name} {value}: must be a finite number in {rng}")


def word_kd_config(**fields):
    """A :class:`WordKDConfig` outside fairseq's command line (library use, tests): the fields fairseq fills from
    its other groups (``II(...)``) get plain values."""
    base = dict(sentence_avg=False, max_update=0, train_subset="train", valid_subset="valid",
                disable_validation=False)
    return WordKDConfig(**{**base, **fields})


def check_config(cfg, task):
    """Flags that cannot work, or not together: one line naming the flag (fairseq-train exits 2)."""
    _finite("--kd-alpha", cfg.kd_alpha, 0.0, 1.0)
    _finite("--kd-temperature", cfg.kd_temperature, 0.0, lo_open=True)
    _finite("--label-smoothing", cfg.label_smoothing, 0.0, 1.0)
    if cfg.kd_topk < 0 or cfg.kd_topk > len(task.target_dictionary):
        raise KdseqError(f"--kd-topk {cfg.kd_topk}: must lie in [0, {len(task.target_dictionary)}] (vocabulary)")
    if cfg.kd_topk and cfg.kd_loss == "mse":
        raise KdseqError("--kd-topk applies to --kd-loss kl only: MSE needs the full logits")
    if bool(cfg.teacher_path) == bool(cfg.teacher_cache):
        raise KdseqError("--criterion word_kd needs --teacher-path (a checkpoint, or several joined by ':') "
                         "or --teacher-cache (a folder from kdseq-cache-teacher), not both")
    check_on_policy(cfg)
    teacher_weights(cfg)
    if cfg.teacher_cache and cfg.kd_loss == "mse":
        raise KdseqError("--teacher-cache stores top-k log-probabilities, not logits: use --kd-loss kl")
    if cfg.teacher_cache and cfg.ignore_prefix_size:
        raise KdseqError("--teacher-cache does not support --ignore-prefix-size")
    if cfg.teacher_cache and not isinstance(task, TranslationKDTask):
        raise KdseqError("--teacher-cache needs --task translation_kd (its batches name their subset, so each "
                         "subset is scored against its own cache)")
    if cfg.teacher_cache:
        check_unsharded(getattr(task.cfg, "data", ""))
    if cfg.kd_anneal_updates < 0:
        raise KdseqError(f"--kd-anneal-updates {cfg.kd_anneal_updates}: must be >= 0")
    if cfg.kd_anneal and (cfg.kd_anneal_updates or cfg.max_update) <= 0:
        raise KdseqError("--kd-anneal needs --kd-anneal-updates N or --max-update N (N > 0)")
    scheduled = cfg.kd_on_policy > 0 and cfg.kd_on_policy_schedule != "fixed"
    if (cfg.kd_anneal or scheduled) and not isinstance(task, TranslationKDTask):  # refused before any update
        flag = "--kd-anneal" if cfg.kd_anneal else f"--kd-on-policy-schedule {cfg.kd_on_policy_schedule}"
        raise KdseqError(f"{flag} needs --task translation_kd (it gives the criterion the update number)")


def teacher_weights(cfg):
    """The weights of --kd-teacher-weights, normalised to sum to 1 (None: not given), checked: one positive finite
    number per teacher of --teacher-path, with --kd-loss kl."""
    if not cfg.kd_teacher_weights:
        return None
    flag = f"--kd-teacher-weights {cfg.kd_teacher_weights}"
    if not cfg.teacher_path:
        raise KdseqError(f"{flag}: weighs the teachers of --teacher-path (a cache stores one distribution)")
    n = len(cfg.teacher_path.split(":"))
    try:
        weights = [float(w) for w in cfg.kd_teacher_weights.split(",")]
    except ValueError:
        raise KdseqError(f"{flag}: give numbers joined by ',', one per teacher (e.g. 0.5,0.5)") from None
    if len(weights) != n:
        raise KdseqError(f"{flag}: {len(weights)} weights for {n} teachers of --teacher-path: give one per teacher")
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise KdseqError(f"{flag}: every weight must be a positive finite number")
    if cfg.kd_loss == "mse":
        raise KdseqError(f"{flag}: weighs the teachers' probabilities: it goes with --kd-loss kl")
    return [w / sum(weights) for w in weights]


def check_on_policy(cfg):
    """The divergence and on-policy flags."""
    _finite("--kd-beta", cfg.kd_beta, 0.0, 1.0)
    _finite("--kd-on-policy", cfg.kd_on_policy, 0.0, 1.0)
    _finite("--kd-sample-temperature", cfg.kd_sample_temperature, 0.0, lo_open=True)
    _finite("--kd-sample-max-len-a", cfg.kd_sample_max_len_a, 0.0)
    if cfg.kd_sample_max_len_b < 1:
        raise KdseqError(f"--kd-sample-max-len-b {cfg.kd_sample_max_len_b}: must be at least 1")
    if cfg.kd_divergence != "forward" and (cfg.kd_loss == "mse" or cfg.kd_topk or cfg.teacher_cache):
        raise KdseqError(f"--kd-divergence {cfg.kd_divergence} needs the teacher's whole distribution: it goes with "
                         "--kd-loss kl and an online teacher (--teacher-path), without --kd-topk")
    if cfg.kd_on_policy > 0 and cfg.teacher_cache:
        raise KdseqError("--kd-on-policy needs an online teacher (--teacher-path): --teacher-cache holds the "
                         "teacher's distributions on the gold targets only, not on the student's own samples")
    if cfg.kd_on_policy > 0 and cfg.ignore_prefix_size:
        raise KdseqError("--kd-on-policy does not support --ignore-prefix-size (the samples carry no prefix)")
    if cfg.kd_on_policy_updates < 0:
        raise KdseqError(f"--kd-on-policy-updates {cfg.kd_on_policy_updates}: must be >= 0")
    if cfg.kd_on_policy_schedule != "fixed" and (cfg.kd_on_policy_updates or cfg.max_update) <= 0:
        raise KdseqError(f"--kd-on-policy-schedule {cfg.kd_on_policy_schedule} needs --kd-on-policy-updates N or "
                         "--max-update N (N > 0)")
