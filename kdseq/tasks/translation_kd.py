"""``--task translation_kd``: fairseq's translation task for word-level distillation.

- It tells the criterion the update number (fairseq passes it to the model only; BAM! teacher annealing,
  ``--kd-anneal``, needs it in the criterion).
- Its batches carry ``kd_subset``, the name of the subset they come from (train, valid, or any other
  ``--valid-subset``), so a teacher cache is read for that subset and no other.

``--task headline_kd`` (:mod:`kdseq.tasks.headline_kd`) extends it with the teacher's own source.
"""
from dataclasses import dataclass

from fairseq.data import BaseWrapperDataset
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask


class SubsetTaggedDataset(BaseWrapperDataset):
    """A dataset whose batches say which subset they come from; every other attribute is the wrapped one's."""

    def __init__(self, dataset, subset):
        super().__init__(dataset)
        self.subset = subset

    def __getattr__(self, name):  # src, tgt, src_sizes, tgt_sizes, ... of the LanguagePairDataset
        if name in ("dataset", "subset"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if batch:
            batch["kd_subset"] = self.subset
        return batch

    def ordered_indices(self):
        return self.dataset.ordered_indices()

    def filter_indices_by_size(self, indices, max_sizes):
        return self.dataset.filter_indices_by_size(indices, max_sizes)


@dataclass
class TranslationKDConfig(TranslationConfig):
    pass


@register_task("translation_kd", dataclass=TranslationKDConfig)
class TranslationKDTask(TranslationTask):

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch, combine, **kwargs)
        self.datasets[split] = SubsetTaggedDataset(self.datasets[split], split)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
