"""Vectorised decoding of word labels into entity spans agrees with a plain loop over IOB2 tags."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.data import label_list
from offline_ner.infer.entities import LabelScheme, decode_spans, span_scores

LABELS = label_list()
SCHEME = LabelScheme.from_labels(LABELS)


def loop_decode(tags: list[str], sentence_start: list[bool]) -> list[tuple[int, int, str]]:
    """Reference: B-X or a type change or a sentence start opens an entity; I-X of the same type extends it."""
    spans: list[list] = []
    current = None
    for i, (tag, new_sentence) in enumerate(zip(tags, sentence_start)):
        if tag == "O":
            current = None
            continue
        prefix, kind = tag.split("-")
        if current is None or prefix == "B" or new_sentence or current[2] != kind:
            current = [i, i, kind]
            spans.append(current)
        else:
            current[1] = i
    return [tuple(span) for span in spans]


@given(st.lists(st.tuples(st.integers(0, len(LABELS) - 1), st.booleans()), max_size=60))
def test_vectorised_decoding_matches_the_reference_loop(words) -> None:
    label_ids = np.array([w[0] for w in words], dtype=np.int64)
    starts = [True] + [w[1] for w in words[1:]] if words else []
    first, last, types = decode_spans(SCHEME, label_ids, np.array(starts, dtype=bool))
    decoded = [(int(f), int(l), SCHEME.types[t]) for f, l, t in zip(first, last, types)]
    assert decoded == loop_decode([LABELS[i] for i in label_ids], starts)


def test_entities_never_cross_a_sentence_start() -> None:
    ids = np.array([LABELS.index("B-PER"), LABELS.index("I-PER"), LABELS.index("I-PER")])
    first, last, _ = decode_spans(SCHEME, ids, np.array([True, False, True]))
    assert first.tolist() == [0, 2] and last.tolist() == [1, 2]


def test_span_score_is_the_mean_word_probability() -> None:
    scores = span_scores(np.array([0, 2]), np.array([1, 4]), np.array([0.5, 0.7, 0.9, 0.6, 0.3], dtype=np.float32))
    assert np.allclose(scores, [0.6, 0.6])


def test_labels_that_are_not_iob2_are_rejected() -> None:
    import pytest

    with pytest.raises(ValueError, match="not an IOB2 tag"):
        LabelScheme.from_labels(["O", "LABEL_1"])
