"""Entity-level precision, recall and F1, overall (micro) and per type, exactly as seqeval computes them. Pure.

Why not seqeval itself: it imports scikit-learn (and so SciPy, ~45 MB of wheels) for one warning class, and an
inference host that only runs ``predict`` and ``evaluate`` on an ONNX export installs neither (issue 29,
docs/dependencies.md). The entities are seqeval's: ``default`` mode is conlleval's (a dangling ``I-X`` starts an
entity, :func:`~offline_ner.data.iob2.spans_from_tags`), ``strict`` mode is seqeval's ``mode="strict",
scheme=IOB2`` (only spans that start with ``B-X`` are entities). ``tests/data/test_entity_scores.py`` checks every
number against seqeval on random tag sequences.

Example::

    scores = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    scores.f1, scores.per_type["PER"]["support"]     # 0.0, 1
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from offline_ner.data.iob2 import Span, spans_from_tags


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged P/R/F1, and per type ``{"p", "r", "f1", "support"}`` (support: gold entities)."""

    precision: float
    recall: float
    f1: float
    support: int
    per_type: Mapping[str, Mapping[str, float]]


def entities(tags: Sequence[str], strict: bool = False) -> list[Span]:
    """The entities of one tag sequence as seqeval finds them (``strict``: IOB2-exact, every one starts with B-)."""
    spans = spans_from_tags(tags)
    return [span for span in spans if tags[span.start].startswith("B-")] if strict else spans


def _prf(true_positives: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1, 0 where a denominator is 0 (seqeval's ``zero_division=0``)."""
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], strict: bool = False) -> EntityScores:
    """Score ``predicted`` tag sequences against ``gold`` ones (the same number of sequences, each as long).

    Raises:
        ValueError: the sequences differ in number or length (a caller bug).
    """
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences differ in length")
    hits: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    predicted_count: Counter[str] = Counter()
    for gold_tags, predicted_tags in zip(gold, predicted):
        gold_spans, predicted_spans = set(entities(gold_tags, strict)), set(entities(predicted_tags, strict))
        gold_count.update(span.label for span in gold_spans)
        predicted_count.update(span.label for span in predicted_spans)
        hits.update(span.label for span in gold_spans & predicted_spans)
    per_type = {}
    for label in sorted(gold_count | predicted_count):
        p, r, f1 = _prf(hits[label], predicted_count[label], gold_count[label])
        per_type[label] = {"p": p, "r": r, "f1": f1, "support": gold_count[label]}
    support = sum(gold_count.values())
    precision, recall, f1 = _prf(sum(hits.values()), sum(predicted_count.values()), support)
    return EntityScores(precision=precision, recall=recall, f1=f1, support=support, per_type=per_type)
