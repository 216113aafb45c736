"""What plugs our parts into Hugging Face's ``Trainer``: the plan's sampler, the collator, the Trainer subclass
(share counting, word-weighted loss) and the dev scorer (``compute_metrics``).

Not here: the callbacks (``callbacks.py``), building the Trainer for a phase and running it (``trainer.py``).

Example::

    sampler = PlanSampler(plan)
    trainer = PhaseTrainer(model=model, args=args, train_dataset=items, plan_sampler=sampler,
                           counter=ShareCounter(), words_per_batch=0.0, train_collator=Collator(tokenizer, 64))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
import torch
from transformers import DataCollatorForTokenClassification, EvalPrediction, Trainer

from offline_ner.data import Record
from offline_ner.train._model import decode_words
from offline_ner.train.evaluation import score_tags
from offline_ner.train.features import Feature
from offline_ner.train.packing import pack_batch
from offline_ner.train.run_log import ShareCounter
from offline_ner.train.sampler import SamplingPlan, epoch_order


class PlanSampler(torch.utils.data.Sampler[int]):
    """The plan's order for the current epoch; the Trainer (via accelerate) calls ``set_epoch`` each epoch."""

    def __init__(self, plan: SamplingPlan) -> None:
        self.plan = plan
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.plan, self.epoch))

    def __len__(self) -> int:
        return self.plan.epoch_size


class Collator:
    """Dynamic padding (HF's token-classification collator) or packed rows (``pack_tokens`` > 0, training only).

    Either way the batch carries the ``is_distilled`` flags and its non-pad token count along for the counter.
    """

    def __init__(self, tokenizer: Any, pack_tokens: int = 0) -> None:
        self._pad = DataCollatorForTokenClassification(tokenizer)
        self._pad_id = tokenizer.pad_token_id
        self._pack_tokens = pack_tokens

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        flags = torch.tensor([item["is_distilled"] for item in items], dtype=torch.long)
        inputs = [{k: v for k, v in item.items() if k != "is_distilled"} for item in items]
        if self._pack_tokens:
            batch = pack_batch(inputs, self._pad_id, self._pack_tokens)
        else:
            batch = self._pad(inputs)
        batch["is_distilled"] = flags
        batch["n_tokens"] = torch.tensor(sum(len(item["input_ids"]) for item in items))
        return batch


class PhaseTrainer(Trainer):
    """HF Trainer with our sampler, a count of what each training batch held, and an optional word-weighted loss.

    With ``words_per_batch`` > 0 the training loss is the sum of the word losses divided by that constant (the
    phase's mean labelled words per batch) instead of their mean per batch. Length-grouped batches differ a lot in
    how many words they hold, and a per-batch mean gives each word of a batch of short sentences several times
    the weight of a word in a batch of long ones; the constant weighs every word alike, as random batches do.
    """

    def __init__(self, *args: Any, plan_sampler: PlanSampler, counter: ShareCounter, words_per_batch: float,
                 train_collator: Collator, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plan_sampler = plan_sampler
        self._counter = counter
        self._words_per_batch = words_per_batch
        self._train_collator = train_collator

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler[int]:
        return self._plan_sampler

    def get_train_dataloader(self) -> Any:
        # training batches may be packed; dev batches stay padded rows, one per feature, for the scorer
        eval_collator: Any = self.data_collator  # type: ignore[has-type]
        self.data_collator = self._train_collator
        try:
            return super().get_train_dataloader()
        finally:
            self.data_collator = eval_collator

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        flags = inputs.pop("is_distilled")
        tokens = int(inputs.pop("n_tokens"))
        if model.training:
            distilled = int(flags.sum())
            self._counter.add(self._plan_sampler.epoch, distilled, len(flags) - distilled, tokens)
        if not model.training or not self._words_per_batch:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        word_losses = torch.nn.functional.cross_entropy(outputs.logits.flatten(0, 1).float(), labels.flatten(),
                                                        ignore_index=-100, reduction="sum")
        loss = word_losses / self._words_per_batch
        return (loss, outputs) if return_outputs else loss


class DevScorer:
    """``compute_metrics`` for the Trainer: word-level seqeval F1 on the dev records, windows joined back and
    decoded as ``predict`` and ``evaluate`` decode (valid IOB2), so the checkpoint picked is the one they score."""

    def __init__(self, features: Sequence[Feature], records: Sequence[Record], id2label: dict[int, str], mode: str):
        self.features, self.records, self.id2label, self.mode = features, records, id2label, mode

    def __call__(self, prediction: EvalPrediction) -> dict[str, float]:
        log_probs = prediction.predictions  # (features, positions, labels); HF pads beyond each feature
        scores = [log_probs[i][list(f.word_positions)] for i, f in enumerate(self.features)]
        labels = [self.id2label[i] for i in range(len(self.id2label))]
        words = decode_words(self.features, scores, len(self.records), labels)
        predicted = [[self.id2label[i] for i in ids] for ids in words]
        report = score_tags([list(r.tags or ()) for r in self.records], predicted, mode=self.mode)
        return {"f1": report.f1, "precision": report.precision, "recall": report.recall}


def log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``preprocess_logits_for_metrics``: dev scoring decodes like predict and evaluate (Viterbi over
    log-probabilities), not by each word's argmax."""
    return torch.log_softmax(logits.float(), dim=-1)
