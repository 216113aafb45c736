"""The unit of data every stage exchanges: a :class:`Record` (one tokenised sentence, maybe labelled).

A record is gold (human tags), distilled (LLM tags), or unlabelled (``tags is None``). Offsets, when known, map
each token to ``text[start:end]``. Provenance is free-form metadata the annotate stage fills in (model string,
request id, prompt hash, ...); readers and writers carry it through untouched.

Example::

    rec = Record(id="s1", tokens=("EU", "rejects"), tags=("B-ORG", "O"), source="conll2003/train.txt")
    spans = rec.spans()            # [Span(start=0, end=1, label='ORG')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from offline_ner.data.iob2 import Span, spans_from_tags
from offline_ner.errors import DataError

# provenance key: with n > 1 LLM samples per sentence, each sample's IOB2 tags (annotate writes them, the
# experiment's k_of_n selection votes over them)
SAMPLE_TAGS_KEY = "sample_tags"


class _Identified(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def source(self) -> str: ...


U = TypeVar("U", bound=_Identified)


@dataclass(frozen=True)
class Record:
    """One sentence: tokens, optional IOB2 tags, optional source text with per-token character offsets."""

    id: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None = None
    text: str | None = None
    offsets: tuple[tuple[int, int], ...] | None = None
    source: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tags is not None and len(self.tags) != len(self.tokens):
            raise ValueError(f"record {self.id}: {len(self.tokens)} tokens but {len(self.tags)} tags")
        if self.offsets is not None and len(self.offsets) != len(self.tokens):
            raise ValueError(f"record {self.id}: {len(self.tokens)} tokens but {len(self.offsets)} offsets")

    @property
    def is_labelled(self) -> bool:
        return self.tags is not None

    def spans(self) -> list[Span]:
        """Entity spans over token indices (end exclusive); empty for an unlabelled record."""
        return spans_from_tags(self.tags) if self.tags is not None else []

    def with_tags(self, tags: Sequence[str], **changes: Any) -> Record:
        """A copy carrying other tags (e.g. LLM tags in place of gold), plus any other field changes."""
        fields = {**self.__dict__, "tags": tuple(tags), **changes}
        return Record(**fields)

    def to_json(self) -> dict[str, Any]:
        """The JSONL form (see ``docs/bundle-format.md``): absent optional fields are omitted."""
        out: dict[str, Any] = {"id": self.id, "tokens": list(self.tokens)}
        if self.tags is not None:
            out["tags"] = list(self.tags)
        if self.text is not None:
            out["text"] = self.text
        if self.offsets is not None:
            out["offsets"] = [list(pair) for pair in self.offsets]
        if self.source:
            out["source"] = self.source
        if self.provenance:
            out["provenance"] = dict(self.provenance)
        return out


def require_tags(records: Sequence[Record], purpose: str, path: object = None) -> None:
    """Refuse unlabelled records where labels are needed, naming the first one and why they are needed.

    Raises:
        DataError: a record has no tags (``path``, when given, is named as the file they came from).
    """
    unlabelled = [r.id for r in records if r.tags is None]
    if unlabelled:
        raise DataError(f"record {unlabelled[0]} has no tags ({len(unlabelled)} of {len(records)} unlabelled); "
                        f"{purpose}", path=path)


def unique_ids(items: Iterable[U]) -> Iterator[U]:
    """``items`` (documents or records) unchanged, refusing a repeated id: output keyed by id would merge two inputs
    (``predict a/ b/`` where both hold ``x.txt``). Keeps every id seen, so meant for inputs of bounded size.

    Raises:
        DataError: an id seen before, naming both sources.
    """
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DataError(f"document id {item.id!r} also comes from {seen[item.id]}; ids must be unique",
                            path=item.source or None)
        seen[item.id] = item.source
        yield item


@dataclass(frozen=True)
class Document:
    """A raw text document (e.g. one BBC article) before sentence splitting."""

    id: str
    text: str
    source: str = ""
