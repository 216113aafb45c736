"""Entities as character spans over a text, and the conversions between them and token records.

Every span-based format (Label Studio, spaCy, ``{"text", "spans"}`` JSONL, inference output) meets the token
records of the rest of the package here, so a span lands on the same tokens whichever format it came from: a span
covers every token it overlaps (a selection that cuts a word takes the whole word), the first token is ``B-``.

Example::

    record = record_from_spans("r1", "Angela Merkel visited Paris.", [CharSpan(0, 13, "PER"), CharSpan(22, 27, "LOC")])
    record.tags                       # ('B-PER', 'I-PER', 'O', 'B-LOC', 'O')
    spans_of_record(record).spans     # (CharSpan(0, 13, 'PER'), CharSpan(22, 27, 'LOC'))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offline_ner.data.iob2 import is_valid_tag
from offline_ner.data.records import Record
from offline_ner.errors import DataError


@dataclass(frozen=True)
class CharSpan:
    """One entity: ``text[start:end]`` (end exclusive) has type ``label``; ``score`` only for predictions."""

    start: int
    end: int
    label: str
    score: float | None = None


@dataclass(frozen=True)
class SpanText:
    """A text with its entities; ``record`` is the token record it came from, when it came from one."""

    id: str
    text: str
    spans: tuple[CharSpan, ...]
    record: Record | None = None

    @property
    def score(self) -> float | None:
        """The mean span score (None without scored spans): Label Studio sorts tasks by it."""
        scores = [span.score for span in self.spans if span.score is not None]
        return round(sum(scores) / len(scores), 4) if scores else None


def token_offsets(record: Record) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The record's text and each token's offsets into it; a record without text is its tokens joined by spaces."""
    if record.text is not None and record.offsets is not None:
        return record.text, record.offsets
    offsets, position = [], 0
    for token in record.tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return " ".join(record.tokens), tuple(offsets)


def spans_of_record(record: Record, scores: Sequence[float] | None = None) -> SpanText:
    """A record's entities as character spans over its text (see :func:`token_offsets`)."""
    text, offsets = token_offsets(record)
    spans = tuple(
        CharSpan(offsets[span.start][0], offsets[span.end - 1][1], span.label, None if scores is None else scores[k])
        for k, span in enumerate(record.spans())
    )
    return SpanText(record.id, text, spans, record)


def tags_from_char_spans(
    offsets: Sequence[tuple[int, int]], spans: Sequence[CharSpan], **where: Any
) -> tuple[str, ...]:
    """IOB2 tags for tokens at ``offsets`` from character spans; each span takes every token it overlaps.

    Raises:
        DataError: a span that covers no token, or two spans sharing a token (``where`` names the place).
    """
    tags = ["O"] * len(offsets)
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if not is_valid_tag(f"B-{span.label}"):
            raise DataError(f"entity type {span.label!r} is not a name (letters, digits, _)", **where)
        if span.end <= span.start:
            raise DataError(f"span [{span.start}, {span.end}) {span.label} is empty or reversed", **where)
        covered = [k for k, (start, end) in enumerate(offsets) if start < span.end and end > span.start]
        if not covered:
            raise DataError(f"span [{span.start}, {span.end}) {span.label} covers no token", **where)
        if any(tags[k] != "O" for k in covered):
            raise DataError(f"span [{span.start}, {span.end}) {span.label} overlaps another span", **where)
        tags[covered[0]] = f"B-{span.label}"
        for k in covered[1:]:
            tags[k] = f"I-{span.label}"
    return tuple(tags)


def record_from_spans(
    record_id: str, text: str, spans: Sequence[CharSpan], *, source: str = "", **where: Any
) -> Record:
    """One labelled record for a whole text: tokenised by the package's text tokenizer, tags from the spans.

    Raises:
        DataError: a span outside ``0..len(text)``, or as :func:`tags_from_char_spans` (``where`` names the place).
    """
    from offline_ner.data.text import tokenize

    outside = [span for span in spans if span.start < 0 or span.end > len(text)]
    if outside:
        span = outside[0]
        raise DataError(f"span [{span.start}, {span.end}) {span.label} lies outside the text "
                        f"({len(text)} characters)", **where)
    tokens = tokenize(text)
    if not tokens:
        raise DataError("the text holds no token", **where)
    offsets = tuple((start, end) for _, start, end in tokens)
    tags = tags_from_char_spans(offsets, spans, **where)
    return Record(record_id, tuple(token for token, _, _ in tokens), tags, text, offsets, source)


def parse_char_spans(raw: object, **where: Any) -> list[CharSpan]:
    """``[{"start", "end", "label"}, ...]`` (spaCy/Prodigy ``spans``) into spans; extra keys are ignored."""
    if not isinstance(raw, list):
        raise DataError("'spans' must be a list of {start, end, label} objects", **where)
    spans = []
    for item in raw:
        if not isinstance(item, Mapping) or not all(key in item for key in ("start", "end", "label")):
            raise DataError("each span must be an object with start, end and label", **where)
        start, end, label = item["start"], item["end"], item["label"]
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str) and label):
            raise DataError("a span's start and end must be integers and its label a string", **where)
        spans.append(CharSpan(start, end, label))
    return spans
