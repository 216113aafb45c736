"""What a teacher model thinks of labelled records: its word-level probabilities over its label set.

The experiment's selection arms (fold teachers) and the review ranking (a gold-trained model judging LLM labels)
both read it; the train stage produces the arrays (``offline_ner.train.predict_word_probs``). numpy is only
typed here, so the shared core stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from offline_ner.data.iob2 import repair_iob2

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TeacherView:
    """A teacher's word-level probabilities for each record, over ``labels``."""

    labels: tuple[str, ...]
    probs: Sequence[np.ndarray]  # per record: (words, labels), rows sum to 1

    def argmax_tags(self) -> list[tuple[str, ...]]:
        """Per record, the most probable tag of each word (may break IOB2: callers repair what they keep)."""
        return [tuple(self.labels[i] for i in p.argmax(axis=1)) for p in self.probs]

    def tags(self) -> list[tuple[str, ...]]:
        """Per record, the teacher's IOB2 tags (argmax, repaired)."""
        return [repair_iob2(tags)[0] for tags in self.argmax_tags()]
