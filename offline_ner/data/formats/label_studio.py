"""Label Studio's JSON task format: pre-annotations out, reviewed annotations back in as records.

Tasks follow Label Studio's documented format for its Named Entity Recognition template (``<Labels name="label"
toName="text">`` over ``<Text name="text" value="$text"/>``)::

    {"data": {"text": "Angela Merkel visited Paris.", "id": "doc-1"},
     "predictions": [{"model_version": "offline-ner", "score": 0.93,
                      "result": [{"id": "doc-1-0", "from_name": "label", "to_name": "text", "type": "labels",
                                  "value": {"start": 0, "end": 13, "text": "Angela Merkel", "labels": ["PER"]},
                                  "score": 0.97}]}]}

A project export ("JSON") is a list of such tasks, each with ``annotations`` (``result`` as above, plus
``was_cancelled``). Reading takes each task's last annotation that was not cancelled; a task nobody annotated is
an error (gold must be reviewed), unless ``use_predictions`` reads the pre-annotations instead. A record read from
an annotation says a person reviewed it: ``annotator`` ``"human"``, ``review`` (the annotation's ``id``, its
``completed_by`` and ``updated_at`` where the export has them), and the LLM's ``annotator`` and ``model`` under
``pre_annotation``.

Tasks written from records carry the record (without tags) under ``data.offline_ner``, so a reviewed export comes
back as the same records with the reviewed tags: same ids, tokens and offsets. Other tasks are split into
sentences by the package's text tokenizer (ids ``<task id>:<sentence>``).

Example::

    write_label_studio(handle, (spans_of_record(r) for r in records))          # import into Label Studio
    gold = read_label_studio("project-1-at-2026-01-01.json")                  # after review
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from offline_ner.data.char_spans import CharSpan, SpanText, tags_from_char_spans, token_offsets
from offline_ner.data.jsonl import parse_record
from offline_ner.data.lines import STDIN_NAME, input_stem, is_stdin, open_input
from offline_ner.data.records import Document, Record
from offline_ner.errors import DataError

FROM_NAME, TO_NAME = "label", "text"  # the names in Label Studio's NER template
RECORD_KEY = "offline_ner"  # data key carrying the source record (tokens, offsets, source, provenance)
MODEL_VERSION = "offline-ner"


def task_of(item: SpanText, *, kind: str = "predictions", model_version: str = MODEL_VERSION) -> dict[str, Any]:
    """One task: the text, its spans as ``predictions`` (pre-annotations) or ``annotations`` (as in an export)."""
    if kind not in ("predictions", "annotations"):
        raise ValueError(f"kind must be 'predictions' or 'annotations', not {kind!r}")
    result = []
    for k, span in enumerate(item.spans):
        region: dict[str, Any] = {
            "id": f"{item.id}-{k}", "from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels",
            "value": {"start": span.start, "end": span.end, "text": item.text[span.start : span.end],
                      "labels": [span.label]},
        }
        if span.score is not None:
            region["score"] = span.score
        result.append(region)
    data: dict[str, Any] = {"text": item.text, "id": item.id}
    if item.record is not None:
        carried = item.record.to_json()
        carried.pop("tags", None)
        data[RECORD_KEY] = carried
    if kind == "annotations":
        return {"data": data, "annotations": [{"result": result, "was_cancelled": False}]}
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    if item.score is not None:
        prediction["score"] = item.score
    return {"data": data, "predictions": [prediction]}


def write_label_studio(handle: IO[str], items: Iterable[SpanText], **options: Any) -> int:
    """A JSON array of tasks, written one task at a time (streaming); returns the task count."""
    return write_tasks(handle, (task_of(item, **options) for item in items))


def write_tasks(handle: IO[str], tasks: Iterable[Mapping[str, Any]]) -> int:
    """Tasks (from :func:`task_of`, perhaps with more ``data``) as one JSON array, streamed; returns the count."""
    count = 0
    handle.write("[")
    for task in tasks:
        handle.write(("\n" if count == 0 else ",\n") + json.dumps(task, ensure_ascii=False))
        count += 1
    handle.write("\n]\n")
    return count


def _spans(result: object, **where: Any) -> list[CharSpan]:
    if not isinstance(result, list):
        raise DataError("'result' must be a list of regions", **where)
    spans = []
    for region in result:
        if not isinstance(region, Mapping) or region.get("type") != "labels":
            continue  # relations, choices, text areas: not entities
        value = region.get("value")
        if not isinstance(value, Mapping):
            raise DataError("a labels region has no 'value' object", **where)
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        if not (isinstance(start, int) and isinstance(end, int)):
            raise DataError("a labels region needs integer value.start and value.end", **where)
        if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
            raise DataError(f"region [{start}, {end}) must carry exactly one label, found {labels!r}", **where)
        spans.append(CharSpan(start, end, labels[0], region.get("score")))
    return spans


def _chosen_result(
    task: Mapping[str, Any], use_predictions: bool, **where: Any
) -> tuple[object, Mapping[str, Any] | None]:
    """The regions to read, and the submitted annotation they come from (None: the pre-annotations)."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, Mapping) and not a.get("was_cancelled")]
    if annotations and not use_predictions:
        return annotations[-1].get("result", []), annotations[-1]
    predictions = task.get("predictions") or []
    if use_predictions and predictions and isinstance(predictions[-1], Mapping):
        return predictions[-1].get("result", []), None
    wanted = "predictions" if use_predictions else "submitted annotation"
    raise DataError(f"no {wanted}; review the task in Label Studio or export only annotated tasks", **where)


def _reviewer(completed_by: object) -> object:
    """Who submitted an annotation: the user id, or from an export that expands users, their id and email."""
    if isinstance(completed_by, Mapping):
        return {k: completed_by[k] for k in ("id", "email") if k in completed_by} or None
    return completed_by if isinstance(completed_by, (int, str)) else None


def _reviewed(record: Record, annotation: Mapping[str, Any]) -> Record:
    """The record as a person left it: ``annotator`` ``"human"``, the Label Studio annotation and who submitted
    it; what labelled it before the review (``annotator``, ``model``) moves under ``pre_annotation``."""
    provenance = {k: v for k, v in record.provenance.items() if k not in ("annotator", "model")}
    before = {k: record.provenance[k] for k in ("annotator", "model") if k in record.provenance}
    review = {"tool": "label-studio", "annotation_id": annotation.get("id"),
              "completed_by": _reviewer(annotation.get("completed_by")), "updated_at": annotation.get("updated_at")}
    provenance.update(annotator="human", review={k: v for k, v in review.items() if v is not None})
    if before:
        provenance["pre_annotation"] = before
    return dataclasses.replace(record, provenance=provenance)


def _text_of(data: Mapping[str, Any], **where: Any) -> str:
    if isinstance(data.get("text"), str):
        return str(data["text"])
    texts = [value for value in data.values() if isinstance(value, str)]
    if len(texts) != 1:
        raise DataError("task data has no 'text' (and not exactly one other string field to label)", **where)
    return texts[0]


def records_of_task(
    task: object, default_id: str, *, use_predictions: bool = False, source: str = "", **where: Any
) -> list[Record]:
    """The records of one task with the tags of its chosen annotation (see the module docstring)."""
    if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
        raise DataError("expected a Label Studio task: an object with a 'data' object", **where)
    data = task["data"]
    task_id = str(data.get("id", task.get("id", default_id)))
    where = {"path": f"{where.get('path', '')} task {task_id}".strip()}
    text = _text_of(data, **where)
    result, annotation = _chosen_result(task, use_predictions, **where)
    spans = _spans(result, **where)
    for span in spans:
        if text[span.start : span.end] == "" or span.end > len(text):
            raise DataError(f"span [{span.start}, {span.end}) lies outside the task's text", **where)
    carried = data.get(RECORD_KEY)
    if isinstance(carried, Mapping):
        base = parse_record(dict(carried), **where)
        record_text, offsets = token_offsets(base)
        if record_text != text:
            raise DataError(f"data.text no longer matches data.{RECORD_KEY} (edited in Label Studio?)", **where)
        records = [base.with_tags(tags_from_char_spans(offsets, spans, **where))]
    else:
        records = _sentence_records(Document(task_id, text, source), spans, **where)
    return records if annotation is None else [_reviewed(record, annotation) for record in records]


def _sentence_records(document: Document, spans: list[CharSpan], **where: Any) -> list[Record]:
    """Sentence records of a document with tags from document-level spans (a span never crosses a sentence)."""
    from offline_ner.data.text import sentence_records

    records = sentence_records(document)
    starts = [int(record.provenance["char_start"]) for record in records]
    absolute = [(s + base, e + base) for record, base in zip(records, starts) for s, e in record.offsets or ()]
    tags = list(tags_from_char_spans(absolute, spans, **where))
    out, position = [], 0
    for record in records:
        own = tags[position : position + len(record.tokens)]
        position += len(record.tokens)
        if own and own[0].startswith("I-"):
            raise DataError(f"a span crosses the sentence boundary before {record.tokens[0]!r}", **where)
        out.append(record.with_tags(own))
    return out


def iter_label_studio(path: str | os.PathLike[str], *, use_predictions: bool = False) -> Iterator[Record]:
    """Records from a Label Studio JSON export (a list of tasks; ``-``: stdin).

    Raises:
        DataError: not JSON, not a list of tasks, a task without a submitted annotation, a span outside its
            text, overlapping spans, or a region without exactly one label (file and task named).
    """
    with open_input(path) as handle:
        raw = handle.read()
    where: dict[str, Any] = {"path": path}
    try:
        tasks = json.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not a Label Studio JSON export ({err})", **where) from err
    except RecursionError as err:
        raise DataError("JSON nested too deeply", **where) from err
    if not isinstance(tasks, list):
        raise DataError("expected a JSON list of Label Studio tasks", **where)
    if not tasks:
        raise DataError("no tasks found (empty export?)", **where)
    stem = input_stem(path)
    source = STDIN_NAME if is_stdin(path) else os.path.basename(os.fspath(path))
    for index, task in enumerate(tasks):
        yield from records_of_task(
            task, f"{stem}:{index}", use_predictions=use_predictions, source=source, **where
        )


def read_label_studio(path: str | os.PathLike[str], *, use_predictions: bool = False) -> list[Record]:
    """All records of a Label Studio export; see :func:`iter_label_studio`."""
    return list(iter_label_studio(path, use_predictions=use_predictions))
