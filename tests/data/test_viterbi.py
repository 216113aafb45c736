"""Constrained Viterbi decoding: its tags are always valid IOB2, it is the best-scoring valid tagging, and it
leaves scores whose argmax is already valid exactly as argmax decodes them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from offline_ner.data import iob2_violations, label_list
from offline_ner.data.viterbi import IOB2Constraints, decode_labels, log_softmax

LABELS = label_list()  # O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC
CONSTRAINTS = IOB2Constraints.from_labels(LABELS)
SMALL_LABELS = label_list(("PER", "ORG"))
SMALL = IOB2Constraints.from_labels(SMALL_LABELS)


def scores_for(tags: list[str], labels: list[str] = LABELS, margin: float = 2.0) -> np.ndarray:
    """Log-probabilities whose argmax is ``tags``, each word's runner-up ``margin`` below."""
    logits = np.zeros((len(tags), len(labels)), dtype=np.float32)
    for i, tag in enumerate(tags):
        logits[i, labels.index(tag)] = margin
    return log_softmax(logits)


def tags_of(ids: np.ndarray, labels: list[str] = LABELS) -> list[str]:
    return [labels[i] for i in ids]


def split(ids: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    return np.split(ids, np.cumsum(lengths)[:-1])


def test_a_dangling_inside_tag_after_o_becomes_valid() -> None:
    scores = scores_for(["O", "I-PER", "I-PER", "O"])
    assert iob2_violations(tags_of(decode_labels(scores, np.array([4]), CONSTRAINTS, "argmax"))) == [1]
    tags = tags_of(decode_labels(scores, np.array([4]), CONSTRAINTS))
    assert iob2_violations(tags) == [] and tags.count("O") + tags.count("B-PER") + tags.count("I-PER") == 4


def test_a_type_change_inside_an_entity_is_resolved_to_one_valid_reading() -> None:
    scores = scores_for(["B-ORG", "I-ORG", "I-LOC"])
    scores[2, LABELS.index("I-ORG")] = np.log(0.3)  # the model's second choice for the last word
    tags = tags_of(decode_labels(scores, np.array([3]), CONSTRAINTS))
    assert tags == ["B-ORG", "I-ORG", "I-ORG"]


def test_a_sentence_never_starts_inside_an_entity() -> None:
    # two sentences back to back: the second one's first word may not continue the first one's entity
    scores = scores_for(["B-PER", "I-PER", "I-PER", "O"])
    ids = decode_labels(scores, np.array([2, 2]), CONSTRAINTS)
    first, second = split(ids, [2, 2])
    assert tags_of(first) == ["B-PER", "I-PER"] and iob2_violations(tags_of(second)) == []


def test_valid_argmax_scores_decode_identically_to_argmax() -> None:
    rng = np.random.default_rng(7)
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-MISC", "I-MISC", "I-MISC", "B-ORG"]
    logits = rng.normal(size=(len(tags), len(LABELS))).astype(np.float32)
    logits[np.arange(len(tags)), [LABELS.index(t) for t in tags]] += 10.0
    scores = log_softmax(logits)
    lengths = np.array([3, 0, 4, 4])
    assert decode_labels(scores, lengths, CONSTRAINTS).tolist() == scores.argmax(1).tolist()
    assert tags_of(decode_labels(scores, lengths, CONSTRAINTS)) == tags


def test_unknown_method_and_wrong_lengths_are_caller_bugs() -> None:
    with pytest.raises(ValueError, match="decode must be one of viterbi, argmax"):
        decode_labels(scores_for(["O"]), np.array([1]), CONSTRAINTS, "beam")
    with pytest.raises(ValueError, match="add up to 2 words"):
        decode_labels(scores_for(["O"]), np.array([2]), CONSTRAINTS)


def test_no_words_give_no_labels() -> None:
    empty = np.zeros((0, len(LABELS)), dtype=np.float32)
    assert decode_labels(empty, np.array([0, 0]), CONSTRAINTS).shape == (0,)


def best_valid_by_brute_force(scores: np.ndarray) -> float:
    """The highest total score of any valid IOB2 tagging, over every tagging of the sentence."""
    best = -np.inf
    for ids in itertools.product(range(len(SMALL_LABELS)), repeat=scores.shape[0]):
        if not iob2_violations(tags_of(np.array(ids), SMALL_LABELS)):
            best = max(best, float(scores[np.arange(len(ids)), ids].sum()))
    return best


sentence_lengths = st.lists(st.integers(0, 5), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(sentence_lengths.flatmap(lambda lengths: st.tuples(
    st.just(lengths),
    arrays(np.float32, (sum(lengths), len(SMALL_LABELS)), elements=st.floats(-6, 6, width=32)),
)))
def test_viterbi_is_the_best_scoring_valid_tagging(case: tuple[list[int], np.ndarray]) -> None:
    lengths, logits = case
    scores = log_softmax(logits)
    ids = decode_labels(scores, np.array(lengths), SMALL)
    for sentence_ids, sentence_scores in zip(split(ids, lengths), split(scores, lengths)):
        assert iob2_violations(tags_of(sentence_ids, SMALL_LABELS)) == []
        if sentence_ids.size:
            chosen = float(sentence_scores[np.arange(sentence_ids.size), sentence_ids].sum())
            assert chosen == pytest.approx(best_valid_by_brute_force(sentence_scores), abs=1e-4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=12).flatmap(lambda lengths: st.tuples(
    st.just(lengths), st.integers(0, 2**32 - 1))))
def test_viterbi_output_is_always_valid_iob2(case: tuple[list[int], int]) -> None:
    lengths, seed = case
    logits = np.random.default_rng(seed).normal(scale=3.0, size=(sum(lengths), len(LABELS))).astype(np.float32)
    ids = decode_labels(log_softmax(logits), np.array(lengths), CONSTRAINTS)
    assert all(iob2_violations(tags_of(sentence)) == [] for sentence in split(ids, lengths))


def test_forbidden_labels_are_never_chosen() -> None:
    # a word the engine could not score is forced to O with -inf elsewhere; the next I-PER must then become B-PER
    scores = scores_for(["B-PER", "I-PER", "I-PER"], margin=5.0)
    scores[1] = -np.inf
    scores[1, LABELS.index("O")] = 0.0
    assert tags_of(decode_labels(scores, np.array([3]), CONSTRAINTS)) in (["B-PER", "O", "B-PER"], ["B-PER", "O", "O"])


def test_log_softmax_gives_the_softmax_probabilities() -> None:
    logits = np.random.default_rng(1).normal(size=(50, 9)).astype(np.float16)
    softmax = np.exp(logits.astype(np.float64)) / np.exp(logits.astype(np.float64)).sum(axis=1, keepdims=True)
    probabilities = np.exp(log_softmax(logits))
    assert probabilities.dtype == np.float32 and np.allclose(probabilities, softmax, atol=1e-6)
