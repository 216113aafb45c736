"""IOB2 tags: validation, repair, and conversion to and from entity spans. Pure functions, no I/O.

IOB2 means every entity starts with ``B-TYPE`` and continues with ``I-TYPE``. The common defect in LLM and
converted data is an ``I-`` with no matching ``B-`` before it; :func:`repair_iob2` turns it into ``B-`` and counts.

Example::

    repair_iob2(["I-PER", "I-PER", "O"])   # -> (("B-PER", "I-PER", "O"), 1)
    spans_from_tags(["B-LOC", "O"])         # -> [Span(0, 1, "LOC")]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

from offline_ner.data.lines import excerpt

TAG_PATTERN = re.compile(r"^(O|[BI]-[A-Za-z][A-Za-z0-9_]*)$")
CONLL_TYPES = ("PER", "ORG", "LOC", "MISC")
# how a model's per-word label scores become tags (offline_ner.data.viterbi): "viterbi" is the best-scoring
# valid IOB2 sequence, "argmax" each word's own best label (may leave an I-X after O or after another type)
DECODERS = ("viterbi", "argmax")
DEFAULT_DECODER = "viterbi"


class Span(NamedTuple):
    """An entity over token indices ``[start, end)``."""

    start: int
    end: int
    label: str


def is_valid_tag(tag: str) -> bool:
    """True for ``O`` and for ``B-``/``I-`` followed by a type name."""
    return TAG_PATTERN.match(tag) is not None


def iob2_violations(tags: Sequence[str]) -> list[int]:
    """Indices of ``I-X`` tags not preceded by ``B-X`` or ``I-X`` (the positions :func:`repair_iob2` fixes)."""
    bad = []
    previous = "O"
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            bad.append(i)
        previous = tag
    return bad


def repair_iob2(tags: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """Return ``(repaired_tags, n_repaired)``: each dangling ``I-X`` becomes ``B-X``."""
    fixed = list(tags)
    for i in iob2_violations(tags):
        fixed[i] = "B-" + fixed[i][2:]
    return tuple(fixed), len(iob2_violations(tags))


def spans_from_tags(tags: Sequence[str]) -> list[Span]:
    """Entity spans of an IOB2 sequence; a dangling ``I-X`` starts a new span (repair semantics)."""
    spans: list[Span] = []
    start, label = -1, ""
    for i, tag in enumerate(tags):
        continues = tag.startswith("I-") and label == tag[2:]
        if continues:
            continue
        if label:
            spans.append(Span(start, i, label))
        start, label = (i, tag[2:]) if tag != "O" else (-1, "")
    if label:
        spans.append(Span(start, len(tags), label))
    return spans


def tags_from_spans(spans: Iterable[Span], length: int) -> tuple[str, ...]:
    """IOB2 tags for ``length`` tokens; spans must not overlap (raises ValueError: a caller bug)."""
    tags = ["O"] * length
    for span in sorted(spans):
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {span} outside 0..{length}")
        if any(tag != "O" for tag in tags[span.start : span.end]):
            raise ValueError(f"span {span} overlaps another span")
        tags[span.start] = "B-" + span.label
        for i in range(span.start + 1, span.end):
            tags[i] = "I-" + span.label
    return tuple(tags)


def unknown_tag_message(tag: str, allowed: Collection[str]) -> str:
    """What to say about a tag outside the run's label set, and how to name another set."""
    return (f"unknown tag {excerpt(tag)}: not in the label set ({', '.join(sorted(allowed))}); a typo? If the "
            "data has other types, name its labels (convert --labels, or labels: in the training config)")


def label_list(types: Sequence[str] = CONLL_TYPES) -> list[str]:
    """The classifier's label list for entity types: ``O`` then ``B-``/``I-`` per type, in a fixed order."""
    labels = ["O"]
    for entity_type in types:
        labels += [f"B-{entity_type}", f"I-{entity_type}"]
    return labels


def agree_spans(samples: Sequence[Sequence[Span]], k: int) -> tuple[list[Span], int]:
    """Spans that at least ``k`` of n label samples agree on (non-overlapping), and how many distinct spans were
    proposed.

    k-of-n agreement over repeated LLM samples (annotate's ``agree_k``, the experiment's ``k_of_n`` selection):
    an entity is kept when at least k samples produced the same span with the same type; kept spans that still
    overlap are resolved like ``annotate.align``: more votes first, then longer, then earlier.

    Example::

        agree_spans([[Span(0, 2, "PER")], [Span(0, 2, "PER")], [Span(0, 1, "PER")]], k=2)
        # ([Span(0, 2, 'PER')], 2)   -> one kept of two distinct spans proposed

    Raises:
        ValueError: ``k`` outside 1..len(samples).
    """
    if k < 1 or k > len(samples):
        raise ValueError(f"agree_k={k} must be between 1 and the number of samples ({len(samples)})")
    votes = Counter(span for sample in samples for span in set(sample))
    kept: list[Span] = []
    taken: set[int] = set()
    for span, count in sorted(votes.items(), key=lambda item: (-item[1], -(item[0].end - item[0].start), item[0])):
        cells = set(range(span.start, span.end))
        if count >= k and not cells & taken:
            kept.append(span)
            taken |= cells
    return sorted(kept), len(votes)
