"""Review where it pays: rank LLM-labelled sentences by what correcting each is worth (from a gold-trained judge's
probabilities), write the top of the queue as Label Studio tasks, and merge the reviewed ones back.

The closed side computes the ranking from a gold-trained model's probabilities (no retraining per ranking);
reviewed tasks come back through ``offline-ner convert`` / ``bundle create --kind gold`` as human-labelled gold.
"""

from offline_ner.review.choices import DEFAULT_SIGNAL, RANDOM, RANKINGS, REVIEW_KEY, SIGNALS
from offline_ner.review.ranking import (
    LabelErrors,
    ReviewScore,
    apply_review,
    entity_errors,
    label_errors,
    merge_reviewed,
    random_order,
    rank_records,
    score_record,
    split_reviewed,
)
from offline_ner.review.tasks import review_task, write_review_files

__all__ = [
    "DEFAULT_SIGNAL",
    "RANDOM",
    "RANKINGS",
    "REVIEW_KEY",
    "SIGNALS",
    "LabelErrors",
    "ReviewScore",
    "apply_review",
    "entity_errors",
    "label_errors",
    "merge_reviewed",
    "random_order",
    "rank_records",
    "review_task",
    "score_record",
    "split_reviewed",
    "write_review_files",
]
