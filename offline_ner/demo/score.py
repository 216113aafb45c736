"""Score document-level predictions (character offsets) against the demo's token-level gold labels.

``predict`` writes entities as character spans into each article; the gold labels are CoNLL tokens. Both sides
come from the same text through ``offline_ner.data.sentence_records``, so each predicted span becomes the IOB2
tags of the tokens it overlaps, and seqeval scores the two tag sequences (entity level, conlleval rules).

Example::

    report = score_predictions(Path("demo-out/predictions.jsonl"), corpus / "test", corpus / "test.conll")
    print(report.table())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from offline_ner.data import (
    Record,
    Span,
    iter_json_lines,
    iter_text_folder,
    read_conll,
    sentence_records,
    tags_from_spans,
)
from offline_ner.errors import DataError
from offline_ner.train.evaluation import EvalReport, score_tags


def tags_for_entities(record: Record, entities: Sequence[Mapping[str, Any]], char_start: int) -> tuple[str, ...]:
    """IOB2 tags of ``record`` from document-level character spans (a token overlapping a span is inside it)."""
    if record.offsets is None:
        raise ValueError(f"record {record.id} has no offsets")
    spans: list[Span] = []
    taken: set[int] = set()
    for entity in sorted(entities, key=lambda e: (e["start"], e["end"])):
        inside = [i for i, (a, b) in enumerate(record.offsets)
                  if a + char_start < entity["end"] and b + char_start > entity["start"] and i not in taken]
        if inside and inside == list(range(inside[0], inside[-1] + 1)):
            spans.append(Span(inside[0], inside[-1] + 1, entity.get("type") or entity["label"]))
            taken.update(inside)
    return tags_from_spans(spans, len(record.tokens))


def _predictions(path: Path) -> dict[str, list[Mapping[str, Any]]]:
    by_document: dict[str, list[Mapping[str, Any]]] = {}
    for row, where in iter_json_lines(path):
        try:
            name = str(row.get("id") or row.get("document") or row.get("source"))
            by_document[Path(name).name.removesuffix(".txt")] = list(row["entities"])
        except (KeyError, TypeError, AttributeError) as err:
            raise DataError(f"not a prediction row with an id and entities: {err}", **where) from err
    return by_document


def score_predictions(predictions: Path, texts: Path, gold_conll: Path) -> EvalReport:
    """Score ``predictions`` (JSONL, one row per article) for the articles in ``texts`` against ``gold_conll``.

    Raises:
        DataError: an article has no prediction row, or the gold file does not match the articles' tokens.
    """
    predicted = _predictions(predictions)
    gold = read_conll(gold_conll)
    y_true: list[list[str]] = []
    y_pred: list[list[str]] = []
    for document in iter_text_folder(texts):
        name = Path(document.id).name
        if name not in predicted:
            raise DataError(f"no prediction for article {name!r}", path=predictions)
        for record in sentence_records(document):
            if len(y_true) >= len(gold) or gold[len(y_true)].tokens != record.tokens:
                raise DataError(f"sentence {len(y_true)} does not match article {name!r}", path=gold_conll)
            y_true.append(list(gold[len(y_true)].tags or ()))
            y_pred.append(list(tags_for_entities(record, predicted[name], record.provenance["char_start"])))
    return score_tags(y_true, y_pred)
