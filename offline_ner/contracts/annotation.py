"""What an annotation run hands back: the folder it wrote, that folder's provenance, and what this process spent.

``annotate()`` (and the batch and import paths) return an :class:`AnnotationSummary`; ``annotate run --json``
prints its :meth:`~AnnotationSummary.to_json`: the folder's ``provenance.json`` with ``out`` and ``this_run`` added.
A run stopped by ``--budget`` raises with a :class:`PartialAnnotation` as the error's ``report``.

Example::

    summary = annotate(plan, out=Path("ann/"), journal=journal, client=client, prices=prices)
    summary.records_out, summary.this_run.sent, summary.qa["f1"] if summary.qa else None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestStats:
    """What this process sent (journal hits cost nothing and are not requests)."""

    sent: int = 0
    journal_hits: int = 0
    retries: int = 0
    spent_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "spent_usd": round(self.spent_usd, 6)}


@dataclass(frozen=True)
class AnnotationSummary:
    """An annotation folder just written: where, its provenance (``provenance.json`` as written), and extras."""

    out: str
    provenance: Mapping[str, Any]
    this_run: RequestStats | None = None  # None: nothing was sent (batch results, imported labels)
    per_type_f1: Mapping[str, float] | None = None  # imported labels with gold: F1 per entity type
    bundle: str | None = None  # the signed bundle made from the folder, when one was asked for

    @property
    def records_out(self) -> int:
        return int(self.provenance.get("records_out", 0))

    @property
    def models(self) -> list[str]:
        return list(self.provenance.get("models") or [])

    @property
    def failed(self) -> list[Mapping[str, Any]]:
        """``{"id", "reason"}`` per record without usable labels."""
        return list(self.provenance.get("failed") or [])

    @property
    def qa(self) -> Mapping[str, Any] | None:
        """Overall precision, recall and F1 against gold; None without gold."""
        return self.provenance.get("qa")

    @property
    def coverage(self) -> Mapping[str, Any] | None:
        return self.provenance.get("coverage")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.provenance, "out": self.out}
        if self.this_run is not None:
            out["this_run"] = self.this_run.to_json()
        if self.per_type_f1 is not None:
            out["per_type_f1"] = dict(self.per_type_f1)
        if self.bundle is not None:
            out["bundle"] = self.bundle
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnnotationSummary:
        extras = ("out", "this_run", "per_type_f1", "bundle")
        this_run = data.get("this_run")
        return cls(
            out=str(data["out"]),
            provenance={k: v for k, v in data.items() if k not in extras},
            this_run=RequestStats(**this_run) if this_run is not None else None,
            per_type_f1=data.get("per_type_f1"),
            bundle=data.get("bundle"),
        )


@dataclass(frozen=True)
class PartialAnnotation:
    """The folder a budget stop still wrote (marked incomplete); the error's ``report``."""

    out: str
    records_out: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
