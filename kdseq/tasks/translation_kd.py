"""``--task translation_kd``: fairseq's translation task that also tells the criterion the update number.

fairseq passes the update number to the model only; BAM! teacher annealing (``--kd-anneal``) needs it in the
criterion.
"""
from dataclasses import dataclass

from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask


@dataclass
class TranslationKDConfig(TranslationConfig):
    pass


@register_task("translation_kd", dataclass=TranslationKDConfig)
class TranslationKDTask(TranslationTask):
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
