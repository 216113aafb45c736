"""Entity scores without seqeval (so inference hosts need no scikit-learn) give seqeval's numbers exactly: every
per-type and micro P/R/F1 and support, in default (conlleval) and strict IOB2 mode, on random tag sequences."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from offline_ner.data.entity_scores import entity_scores

TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG")


@st.composite
def gold_and_predicted(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    lengths = draw(st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=6))
    tags = st.sampled_from(TAGS)
    return ([draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths],
            [draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths])


@settings(max_examples=300, deadline=None)
@given(gold_and_predicted(), st.booleans())
@example(([["B-PER", "I-PER", "I-LOC", "O"]], [["I-PER", "I-PER", "B-LOC", "I-LOC"]]), True)
@example(([["O", "O"]], [["O", "O"]]), False)
def test_scores_are_seqevals(sequences: tuple[list[list[str]], list[list[str]]], strict: bool) -> None:
    gold, predicted = sequences
    kwargs = {"mode": "strict", "scheme": IOB2} if strict else {}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0, **kwargs)
    ours = entity_scores(gold, predicted, strict=strict)
    expected_types = {name: row for name, row in report.items() if not name.endswith(" avg")}
    assert set(ours.per_type) == set(expected_types)
    for name, row in expected_types.items():
        mine = ours.per_type[name]
        assert (mine["p"], mine["r"], mine["f1"]) == pytest.approx((row["precision"], row["recall"], row["f1-score"]))
        assert mine["support"] == row["support"]
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    assert (ours.precision, ours.recall, ours.f1) == pytest.approx(
        (micro["precision"], micro["recall"], micro["f1-score"]))
    assert ours.support == micro["support"]


def test_sequences_of_different_lengths_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        entity_scores([["O", "B-PER"]], [["O"]])
