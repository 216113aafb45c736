"""Agreement selection keeps distilled sentences whose LLM spans a teacher model agrees with."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.data import Record, Span, spans_from_tags
from offline_ner.experiment import select_by_agreement, span_agreement


def rec(i: int, tags: tuple[str, ...]) -> Record:
    return Record(id=f"s{i}", tokens=tuple(f"w{j}" for j in range(len(tags))), tags=tags)


def test_sentence_is_kept_only_when_llm_and_teacher_spans_agree() -> None:
    distilled = [rec(0, ("B-PER", "I-PER", "O")), rec(1, ("B-ORG", "O", "O")), rec(2, ("O", "O", "O"))]
    teacher = [("B-PER", "I-PER", "O"), ("B-LOC", "O", "O"), ("O", "O", "O")]
    kept = select_by_agreement(distilled, teacher, min_agreement=1.0)
    assert [r.id for r in kept] == ["s0", "s2"]
    assert kept[0].tags == ("B-PER", "I-PER", "O")  # the LLM's labels are kept, never replaced


def test_partial_agreement_passes_a_lower_threshold() -> None:
    distilled = [rec(0, ("B-PER", "O", "B-LOC"))]
    teacher = [("B-PER", "O", "O")]
    assert select_by_agreement(distilled, teacher, min_agreement=0.6) == distilled
    assert select_by_agreement(distilled, teacher, min_agreement=0.7) == []


def test_teacher_tags_of_the_wrong_length_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="2 tokens but 1 teacher tags"):
        select_by_agreement([rec(0, ("O", "O"))], [("O",)], 1.0)


tags_strategy = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=12)


@given(tags_strategy, tags_strategy)
def test_span_agreement_is_symmetric_within_unit_interval_and_one_on_identity(a: list[str], b: list[str]) -> None:
    sa, sb = spans_from_tags(a), spans_from_tags(b)
    assert span_agreement(sa, sb) == span_agreement(sb, sa)
    assert 0.0 <= span_agreement(sa, sb) <= 1.0
    assert span_agreement(sa, sa) == 1.0


def test_span_agreement_counts_type_and_boundaries() -> None:
    assert span_agreement([Span(0, 2, "PER")], [Span(0, 1, "PER")]) == 0.0
    assert span_agreement([Span(0, 2, "PER")], [Span(0, 2, "ORG")]) == 0.0
