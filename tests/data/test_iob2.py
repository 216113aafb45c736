"""IOB2 validation, repair and span conversion."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.data import (
    Span,
    iob2_violations,
    is_valid_tag,
    label_list,
    repair_iob2,
    spans_from_tags,
    tags_from_spans,
)

any_tag = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC"])


def test_dangling_inside_tag_becomes_begin_and_is_counted() -> None:
    assert repair_iob2(["I-PER", "I-PER", "O", "I-LOC"]) == (("B-PER", "I-PER", "O", "B-LOC"), 2)


def test_inside_tag_of_another_type_starts_a_new_entity() -> None:
    assert repair_iob2(["B-PER", "I-LOC"]) == (("B-PER", "B-LOC"), 1)
    assert spans_from_tags(["B-PER", "I-LOC"]) == [Span(0, 1, "PER"), Span(1, 2, "LOC")]


def test_valid_sequence_needs_no_repair() -> None:
    tags = ["B-ORG", "I-ORG", "O", "B-PER"]
    assert iob2_violations(tags) == [] and repair_iob2(tags) == (tuple(tags), 0)


def test_tag_syntax() -> None:
    assert all(map(is_valid_tag, ["O", "B-PER", "I-MISC", "B-X_1"]))
    assert not any(map(is_valid_tag, ["PER", "B-", "E-PER", "b-per", "O-PER", ""]))


def test_label_list_puts_outside_first_then_begin_inside_per_type() -> None:
    assert label_list(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@given(st.lists(any_tag, max_size=30))
@example(["I-PER"])
def test_repair_always_yields_valid_iob2_with_the_same_spans(tags: list[str]) -> None:
    repaired, count = repair_iob2(tags)
    assert len(repaired) == len(tags)
    assert iob2_violations(repaired) == []
    assert count == sum(a != b for a, b in zip(tags, repaired))
    assert spans_from_tags(repaired) == spans_from_tags(tags)


@given(st.lists(any_tag, max_size=30))
def test_spans_to_tags_round_trips_repaired_tags(tags: list[str]) -> None:
    repaired, _ = repair_iob2(tags)
    assert tags_from_spans(spans_from_tags(repaired), len(tags)) == repaired
