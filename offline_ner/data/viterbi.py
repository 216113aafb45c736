"""Per-word label scores to tags that always form valid IOB2: constrained Viterbi decoding. Pure (numpy only).

Why: a token classifier labels each word on its own, so the per-word argmax can put an ``I-X`` after ``O`` or
after another type (232 such tags on CoNLL test from one of our models), and the two seqeval modes then disagree
about what the entities are. Viterbi over the log-probabilities, with the IOB2 transitions (``O`` and ``B-*``
anywhere; ``I-X`` only after ``B-X`` or ``I-X``, never first), finds the valid sequence with the highest total
log-probability, i.e. the most probable valid tagging under the model's independent word probabilities. When the
argmax is already valid it is that sequence, so decoding changes only sentences that broke IOB2.

Vectorised over many sentences at once: sentences are sorted longest first, so step ``t`` updates a prefix of
them (those longer than ``t``) with one numpy operation over ``sentences x labels x labels``; the Python loop
runs once per word position of the longest sentence, not once per word.

Not re-exported by :mod:`offline_ner.data`, so that importing the data package does not load numpy.

Example::

    constraints = IOB2Constraints.from_labels(["O", "B-PER", "I-PER"])
    decode_labels(log_softmax(logits), np.array([3, 2]), constraints)   # label ids of 5 words, 2 sentences
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offline_ner.data.iob2 import DECODERS, DEFAULT_DECODER


@dataclass(frozen=True)
class IOB2Constraints:
    """The IOB2 rules over a label list, as additive scores: 0 where allowed, -inf where not."""

    start: np.ndarray  # (labels,): may this label open a sentence
    step: np.ndarray  # (previous label, next label): may next follow previous

    @classmethod
    def from_labels(cls, labels: Sequence[str]) -> IOB2Constraints:
        """Constraints for labels named ``O``, ``B-X``, ``I-X`` (any other name is treated like ``O``)."""
        inside_type = [label[2:] if label.startswith("I-") else None for label in labels]
        entity_type = [label[2:] if label[:2] in ("B-", "I-") else None for label in labels]
        allowed_step = np.array(
            [[kind is None or kind == previous for kind in inside_type] for previous in entity_type], dtype=bool
        )
        allowed_start = np.array([kind is None for kind in inside_type], dtype=bool)
        return cls(np.where(allowed_start, 0.0, -np.inf), np.where(allowed_step, 0.0, -np.inf))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, in float32 (also for fp16 logits), computed stably."""
    logits = logits.astype(np.float32, copy=False)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def decode_labels(
    scores: np.ndarray, lengths: np.ndarray, constraints: IOB2Constraints, method: str = DEFAULT_DECODER
) -> np.ndarray:
    """The label id of every word of many sentences stored back to back.

    Args:
        scores: ``(words, labels)`` log-probabilities (any additive scores work; ``-inf`` forbids a label).
        lengths: words per sentence, in order; they sum to ``words``. A sentence is the unit IOB2 holds over.
        constraints: the label list's IOB2 rules.
        method: ``viterbi`` (valid IOB2) or ``argmax`` (each word's best label alone).

    Raises:
        ValueError: unknown method, or lengths that do not add up to the words (a caller bug).
    """
    if method not in DECODERS:
        raise ValueError(f"decode must be one of {', '.join(DECODERS)}, not {method!r}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if int(lengths.sum()) != scores.shape[0] or (lengths < 0).any():
        raise ValueError(f"sentence lengths add up to {int(lengths.sum())} words, the scores have {scores.shape[0]}")
    if method == "argmax" or scores.shape[0] == 0:
        return scores.argmax(axis=1).astype(np.int64)
    return _viterbi(scores, lengths, constraints)


def _viterbi(scores: np.ndarray, lengths: np.ndarray, constraints: IOB2Constraints) -> np.ndarray:
    order = np.argsort(-lengths, kind="stable")
    order = order[lengths[order] > 0]
    sizes = lengths[order]  # longest first
    firsts = (np.cumsum(lengths) - lengths)[order]  # each sentence's first word
    # longer[t] = how many sentences have more than t words: the prefix that step t touches
    longer = np.searchsorted(-sizes, -np.arange(int(sizes[0]) + 1), side="left")
    best = scores[firsts] + constraints.start  # (sentences, labels): best path score ending in each label
    back = []
    for t in range(1, int(sizes[0])):
        k = int(longer[t])
        paths = best[:k, :, None] + constraints.step  # (k, previous, next)
        previous = paths.argmax(axis=1)  # (k, next)
        back.append(previous)
        best[:k] = np.take_along_axis(paths, previous[:, None, :], axis=1)[:, 0, :] + scores[firsts[:k] + t]
    last = best.argmax(axis=1)  # each sentence's final label (its row stopped updating at its last word)
    labels = np.empty(scores.shape[0], dtype=np.int64)
    current = np.empty(sizes.size, dtype=np.int64)
    for t in range(int(sizes[0]) - 1, -1, -1):
        k, ending = int(longer[t]), int(longer[t + 1])
        current[ending:k] = last[ending:k]  # sentences whose last word is t start their walk back here
        labels[firsts[:k] + t] = current[:k]
        if t:
            current[:k] = back[t - 1][np.arange(k), current[:k]]
    return labels
