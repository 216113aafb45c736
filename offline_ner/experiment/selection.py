"""Annotation selection: keep the distilled sentences whose LLM labels a teacher model agrees with. Pure.

The LLM labels we distil from are noisy (NoiseBench's GPT labels: F1 0.554 against gold, MISC 0.135), and the
paper names selection as future work. Agreement filtering: a teacher trained on the gold subset re-labels every
distilled sentence; a sentence is kept when the span F1 between its LLM spans and the teacher's spans reaches
``min_agreement``. Sentences where both find no entity agree (F1 1.0). The teacher never *replaces* LLM labels:
this tests whether choosing sentences helps, not self-training.

Example::

    kept = select_by_agreement(distilled, teacher_tags, min_agreement=1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

from offline_ner.data import Record, Span, spans_from_tags


def span_agreement(a: Sequence[Span], b: Sequence[Span]) -> float:
    """Entity-level F1 between two span sets of one sentence (exact boundaries and type); 1.0 when both empty."""
    if not a and not b:
        return 1.0
    common = len(set(a) & set(b))
    return 2 * common / (len(a) + len(b))


def select_by_agreement(
    distilled: Sequence[Record], teacher_tags: Sequence[Sequence[str]], min_agreement: float
) -> list[Record]:
    """The distilled records whose LLM spans agree with the teacher's by at least ``min_agreement``.

    Raises:
        ValueError: the teacher tagged a different number of records or tokens (a caller bug).
    """
    if len(teacher_tags) != len(distilled):
        raise ValueError(f"{len(teacher_tags)} teacher tag sequences for {len(distilled)} distilled records")
    kept = []
    for record, tags in zip(distilled, teacher_tags):
        if len(tags) != len(record.tokens):
            raise ValueError(f"record {record.id}: {len(record.tokens)} tokens but {len(tags)} teacher tags")
        if span_agreement(record.spans(), spans_from_tags(tags)) >= min_agreement:
            kept.append(record)
    return kept
