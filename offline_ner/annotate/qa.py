"""Quality of LLM labels against gold: per-type P/R/F1 (seqeval, entity level) and agreement tables. Pure.

Agreement tables say how the LLM disagrees, which per-type F1 hides: per gold type, how many entities the LLM
matched exactly, typed differently, bounded differently, or missed, plus its spurious entities per LLM type; and
a token-level confusion table (gold entity type or O, LLM entity type or O).

Example::

    report = qa_report(llm_tags, gold_tags)
    report["overall"]["f1"], report["per_type"]["PER"]["f1"]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from offline_ner.data import Span, spans_from_tags


def _rounded(value: float) -> float:
    return round(float(value), 4)


def prf_by_type(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """seqeval's entity-level report (default conlleval mode) as ``{"overall": ..., "per_type": ...}``."""
    from seqeval.metrics import classification_report  # pulls in scikit-learn (~1 s): only when QA runs

    report = classification_report(
        [list(t) for t in gold], [list(t) for t in predicted], output_dict=True, zero_division=0
    )
    per_type = {
        name: {
            "precision": _rounded(row["precision"]),
            "recall": _rounded(row["recall"]),
            "f1": _rounded(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in report.items()
        if not name.endswith(" avg")
    }
    micro = report["micro avg"]
    overall = {
        "precision": _rounded(micro["precision"]),
        "recall": _rounded(micro["recall"]),
        "f1": _rounded(micro["f1-score"]),
        "support": int(micro["support"]),
    }
    return {"overall": overall, "per_type": per_type}


def _entity_agreement(gold_spans: list[Span], llm_spans: list[Span], table: dict[str, Counter[str]]) -> None:
    llm_left = set(llm_spans)
    for g in gold_spans:
        row = table[g.label]
        if g in llm_left:
            row["exact"] += 1
            llm_left.discard(g)
            continue
        same_bounds = [p for p in llm_left if (p.start, p.end) == (g.start, g.end)]
        overlapping = [p for p in llm_left if p.start < g.end and g.start < p.end]
        if same_bounds:
            row["type_mismatch"] += 1
            llm_left.discard(same_bounds[0])
        elif any(p.label == g.label for p in overlapping):
            row["boundary_mismatch"] += 1
            llm_left.discard(next(p for p in overlapping if p.label == g.label))
        elif overlapping:
            row["type_and_boundary_mismatch"] += 1
            llm_left.discard(min(overlapping))
        else:
            row["missed"] += 1
    for p in llm_left:
        table[p.label]["spurious"] += 1


def _token_type(tag: str) -> str:
    return "O" if tag == "O" else tag[2:]


def qa_report(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, Any]:
    """P/R/F1 per type and overall, entity agreement per type, token confusion; sequences pair up by position.

    Raises:
        ValueError: the two lists differ in length, or a pair differs in token count (a caller bug).
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted sequences but {len(gold)} gold sequences")
    entity_table: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for pred, ref in zip(predicted, gold):
        if len(pred) != len(ref):
            raise ValueError(f"a predicted sequence has {len(pred)} tags, its gold {len(ref)}")
        _entity_agreement(spans_from_tags(ref), spans_from_tags(pred), entity_table)
        for p, g in zip(pred, ref):
            confusion[_token_type(g)][_token_type(p)] += 1
    columns = ("exact", "type_mismatch", "boundary_mismatch", "type_and_boundary_mismatch", "missed", "spurious")
    return {
        "sentences": len(gold),
        **prf_by_type(gold, predicted),
        "entity_agreement": {
            label: {column: row[column] for column in columns} for label, row in sorted(entity_table.items())
        },
        "token_confusion": {gold_type: dict(sorted(row.items())) for gold_type, row in sorted(confusion.items())},
    }
