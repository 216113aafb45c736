"""Entities and the vectorised decoding of per-word labels into them.

Pure (numpy only). Decoding follows IOB2 leniently, as HF's "simple" aggregation does: an entity starts at
``B-X``, at the start of a sentence, or where the type changes (an ``I-X`` after ``O`` or after another type
starts a new entity instead of being dropped); it continues over ``I-X`` of the same type. The engine's default
Viterbi decoder gives valid IOB2 already; the leniency matters for ``decode="argmax"``.

Example::

    scheme = LabelScheme.from_labels(["O", "B-PER", "I-PER"])
    decode_spans(scheme, np.array([1, 2, 0]), np.array([True, False, False]))
    # (array([0]), array([1]), array([0]))     first word, last word (inclusive), type index
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity: its type, character offsets into the original text (end exclusive), surface, score."""

    type: str
    start: int
    end: int
    text: str
    score: float

    @property
    def label(self) -> str:
        """Alias of :attr:`type` (``PER``, ``ORG`` ...)."""
        return self.type

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "text": self.text, "score": self.score}


@dataclass(frozen=True)
class LabelScheme:
    """A model's IOB2 labels as arrays: the entity type of each label id (-1 for O) and whether it is B-."""

    labels: tuple[str, ...]
    types: tuple[str, ...]
    type_of: np.ndarray
    is_begin: np.ndarray
    outside: int  # the id of "O"

    @classmethod
    def from_labels(cls, labels: Sequence[str]) -> LabelScheme:
        """Raises ValueError for a label that is not ``O``, ``B-X`` or ``I-X``, or a label set without ``O``."""
        types: list[str] = []
        type_of, is_begin = [], []
        for label in labels:
            if label == "O":
                type_of.append(-1)
                is_begin.append(False)
                continue
            prefix, _, name = label.partition("-")
            if prefix not in ("B", "I") or not name:
                raise ValueError(f"label {label!r} is not an IOB2 tag")
            if name not in types:
                types.append(name)
            type_of.append(types.index(name))
            is_begin.append(prefix == "B")
        if "O" not in labels:
            raise ValueError("the label set has no 'O'")
        return cls(tuple(labels), tuple(types), np.array(type_of), np.array(is_begin), list(labels).index("O"))


def decode_spans(
    scheme: LabelScheme, label_ids: np.ndarray, sentence_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entity spans over a flat array of words (many sentences back to back).

    Args:
        scheme: the model's labels.
        label_ids: one label id per word.
        sentence_start: True on each sentence's first word (entities never cross sentences).

    Returns:
        ``(first_word, last_word, type_index)`` arrays, one entry per entity, last_word inclusive.
    """
    types = scheme.type_of[label_ids]
    inside = types >= 0
    previous = np.concatenate(([-1], types[:-1]))
    starts = inside & (scheme.is_begin[label_ids] | sentence_start | (previous != types))
    continues_next = np.concatenate((inside[1:] & ~starts[1:], [False]))
    lasts = inside & ~continues_next
    first_word = np.flatnonzero(starts)
    return first_word, np.flatnonzero(lasts), types[first_word]


def span_scores(first_word: np.ndarray, last_word: np.ndarray, word_scores: np.ndarray) -> np.ndarray:
    """Mean word probability over each span (inclusive ends)."""
    if first_word.size == 0:
        return np.zeros(0, dtype=np.float32)
    cumulative = np.concatenate(([0.0], np.cumsum(word_scores, dtype=np.float64)))
    return ((cumulative[last_word + 1] - cumulative[first_word]) / (last_word - first_word + 1)).astype(np.float32)
