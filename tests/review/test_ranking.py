"""The review ranking: sentences with more likely label errors come first, each with a reason a reviewer reads;
the random control is seeded; simulated review replaces exactly the chosen labels and says so."""

from __future__ import annotations

import numpy as np
import pytest

from offline_ner.data import Record
from offline_ner.data.teacher_view import TeacherView
from offline_ner.review import (
    SIGNALS,
    apply_review,
    entity_errors,
    label_errors,
    random_order,
    rank_records,
    score_record,
)

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


def probs(*tags: tuple[str, float]) -> np.ndarray:
    """One row per word: ``p`` on the given tag, the rest spread evenly."""
    out = np.zeros((len(tags), len(LABELS)), dtype=np.float32)
    for row, (tag, p) in enumerate(tags):
        out[row, :] = (1 - p) / (len(LABELS) - 1)
        out[row, LABELS.index(tag)] = p
    return out


def record(rid: str, *tags: str) -> Record:
    return Record(id=rid, tokens=tuple(f"w{i}" for i in range(len(tags))), tags=tuple(tags))


# the LLM calls Wall Street a place; the teacher is sure it is an organisation
MISTYPED = record("mistyped", "B-LOC", "I-LOC", "O")
MISTYPED_P = probs(("B-ORG", 0.9), ("I-ORG", 0.9), ("O", 0.95))
# the LLM and the teacher agree
AGREED = record("agreed", "B-PER", "O", "O")
AGREED_P = probs(("B-PER", 0.97), ("O", 0.98), ("O", 0.99))
# the LLM missed a person the teacher finds
MISSED = record("missed", "O", "O", "O")
MISSED_P = probs(("O", 0.9), ("B-PER", 0.6), ("O", 0.9))


@pytest.mark.parametrize("signal", [s for s in SIGNALS if s != "uncertainty"])  # uncertainty: below
def test_a_sentence_the_teacher_contradicts_ranks_above_one_it_confirms(signal: str) -> None:
    view = TeacherView(LABELS, [AGREED_P, MISTYPED_P, MISSED_P])
    ranking = rank_records([AGREED, MISTYPED, MISSED], view, signal)
    assert ranking[0].record_id == "mistyped"
    assert ranking[-1].record_id == "agreed"
    assert [s.score for s in ranking] == sorted((s.score for s in ranking), reverse=True)


def test_entity_errors_counts_a_mistyped_entity_as_a_false_and_a_missed_span() -> None:
    score = score_record(MISTYPED, MISTYPED_P, LABELS, "entity-errors")
    # the LLM's LOC span: p(B-LOC, I-LOC) ~0.017 each -> ~0.98 doubt; the teacher's ORG span: 0.9 sure
    assert score.score == pytest.approx((1 - 0.1 / 6) + 0.9, abs=1e-3)
    assert score.reason.startswith("teacher says ORG where the LLM says LOC: 'w0 w1'")


def test_reasons_name_what_the_llm_left_out_and_are_empty_when_all_agree() -> None:
    assert score_record(MISSED, MISSED_P, LABELS, "entity-errors").reason == \
        "teacher finds PER 'w1' that the LLM left out (0.60)"
    agreed = score_record(AGREED, AGREED_P, LABELS, "entity-errors")
    assert agreed.reason.startswith("teacher doubts the LLM's PER 'w0' (0.03")
    assert score_record(record("empty", "O"), probs(("O", 0.99)), LABELS, "entity-errors").reason == ""


def test_ties_keep_the_input_order_so_a_ranking_is_reproducible() -> None:
    same = [record(f"r{i}", "B-PER", "O", "O") for i in range(5)]
    ranking = rank_records(same, TeacherView(LABELS, [AGREED_P] * 5), "entity-errors")
    assert [s.record_id for s in ranking] == [f"r{i}" for i in range(5)]


def test_bad_inputs_are_refused_with_the_record_named() -> None:
    with pytest.raises(ValueError, match="unknown review signal 'loudest'"):
        score_record(AGREED, AGREED_P, LABELS, "loudest")
    with pytest.raises(ValueError, match="record agreed: 3 words but 2 rows"):
        score_record(AGREED, AGREED_P[:2], LABELS, "entity-errors")
    with pytest.raises(ValueError, match="has no labels"):
        score_record(Record(id="bare", tokens=("a",)), probs(("O", 1.0)), LABELS, "token-errors")
    with pytest.raises(ValueError, match="1 probability rows for 2 records"):
        rank_records([AGREED, MISSED], TeacherView(LABELS, [AGREED_P]), "entity-errors")


def test_random_order_is_a_seeded_permutation() -> None:
    records = [record(f"r{i}", "O") for i in range(50)]
    first = [s.record_id for s in random_order(records, 1)]
    assert first == [s.record_id for s in random_order(records, 1)]
    assert first != [s.record_id for s in random_order(records, 2)]
    assert sorted(first) == sorted(r.id for r in records)


def test_simulated_review_replaces_only_the_chosen_labels_and_records_who_reviewed() -> None:
    gold = {r.id: r for r in [record("mistyped", "B-ORG", "I-ORG", "O"), record("agreed", "B-PER", "O", "O"),
                              record("missed", "O", "B-PER", "O")]}
    ranking = rank_records([AGREED, MISTYPED, MISSED], TeacherView(LABELS, [AGREED_P, MISTYPED_P, MISSED_P]),
                           "entity-errors")
    out = apply_review([AGREED, MISTYPED, MISSED], gold, ranking[:1], reviewer="gold_labels")
    assert [r.id for r in out] == ["agreed", "mistyped", "missed"]  # input order kept
    assert out[1].tags == ("B-ORG", "I-ORG", "O")
    assert out[1].provenance["review"] == {"reviewer": "gold_labels", "rank": 1, "score": ranking[0].score}
    assert out[0] is AGREED and out[2] is MISSED
    # what the top 1 holds: the mistyped entity's two errors of the three the LLM made
    errors = label_errors([AGREED, MISTYPED, MISSED], gold, ranking, 1)
    assert (errors.errors_in_reviewed, errors.errors_total, errors.wrong_sentences_total) == (2, 3, 2)
    assert errors.error_share == pytest.approx(2 / 3)
    assert entity_errors(MISSED, gold["missed"]) == 1


def test_review_refuses_a_reviewer_without_labels_for_the_same_tokens() -> None:
    other = {"agreed": Record(id="agreed", tokens=("x", "y", "z"), tags=("O", "O", "O"))}
    with pytest.raises(ValueError, match="reviewer 'gold' has no labels for these tokens"):
        apply_review([AGREED], other, random_order([AGREED], 1), reviewer="gold")


def test_uncertainty_ranks_where_the_teacher_is_unsure_above_a_confident_disagreement() -> None:
    torn = record("torn", "B-LOC", "O", "O")
    torn_p = probs(("B-ORG", 0.4), ("O", 0.5), ("O", 0.6))  # unsure everywhere, whatever the LLM said
    view = TeacherView(LABELS, [MISTYPED_P, torn_p])
    ranking = rank_records([MISTYPED, torn], view, "uncertainty")
    assert [s.record_id for s in ranking] == ["torn", "mistyped"]
    assert ranking[0].reason.startswith("teacher unsure of 'w0': B-ORG 0.40 or ")
    assert ranking[0].reason.endswith("(the LLM says B-LOC)")
