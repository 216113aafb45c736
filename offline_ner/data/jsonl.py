"""JSONL records: one JSON object per line with ``id``, ``tokens``, optional ``tags``, ``text``, ``offsets``,
``source`` and ``provenance`` (the schema in ``docs/bundle-format.md``).

Two other shapes are read into the same records: Hugging Face datasets' ``{"tokens", "ner_tags"}`` (tag strings,
or integers given a label list; ``id`` optional) and spaCy/Prodigy's ``{"text", "spans": [{"start", "end",
"label"}]}`` (the text is tokenised here). A line without ``id`` gets ``<file stem>:<line>``, the same on every read.

Example::

    write_jsonl(records, "distilled.jsonl")
    assert read_jsonl("distilled.jsonl") == records
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_writer
from offline_ner.data.char_spans import parse_char_spans, record_from_spans
from offline_ner.data.iob2 import is_valid_tag, unknown_tag_message
from offline_ner.data.lines import excerpt, input_stem, iter_utf8_lines, loads_json_line
from offline_ner.data.records import Record
from offline_ner.errors import DataError


def _string_list(obj: dict[str, Any], key: str, where: dict[str, Any]) -> tuple[str, ...]:
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DataError(f"{key!r} must be a list of strings", **where)
    return tuple(value)


def _hf_tags(obj: dict[str, Any], labels: Sequence[str] | None, where: dict[str, Any]) -> tuple[str, ...]:
    """HF ``ner_tags``: tag strings, or integer ids into ``labels`` (the dataset's ClassLabel names)."""
    value = obj["ner_tags"]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise DataError("'ner_tags' must be a list of tag strings or of integer label ids", **where)
    if labels is None:
        raise DataError(
            "'ner_tags' holds integer ids but no label list was given (read_records(..., labels=[...]) or "
            "`offline-ner convert --labels O,B-PER,...`)",
            **where,
        )
    if any(not 0 <= item < len(labels) for item in value):
        raise DataError(f"'ner_tags' holds an id outside the {len(labels)} given labels", **where)
    return tuple(labels[item] for item in value)


def parse_record(
    obj: object, *, default_id: str | None = None, labels: Sequence[str] | None = None, **where: Any
) -> Record:
    """Build a record from one decoded JSON object; ``where`` (path, line) goes into errors.

    ``default_id`` is the id of a line without one; ``labels`` maps integer HF ``ner_tags`` to tag names.
    """
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object, found {type(obj).__name__}", **where)
    record_id = obj.get("id", default_id)
    if "tokens" not in obj and isinstance(obj.get("text"), str) and "spans" in obj and record_id is not None:
        spans = parse_char_spans(obj["spans"], **where)
        return record_from_spans(str(record_id), obj["text"], spans, source=str(obj.get("source") or ""), **where)
    missing = [key for key, value in (("id", record_id), ("tokens", obj.get("tokens"))) if value is None]
    if missing:
        raise DataError(
            f"missing field(s) {', '.join(missing)}; expected at least id and tokens (or text and spans)", **where
        )
    tokens = _string_list(obj, "tokens", where)
    if not tokens:
        raise DataError("'tokens' is empty", **where)
    if obj.get("tags") is not None:
        tags: tuple[str, ...] | None = _string_list(obj, "tags", where)
    elif obj.get("ner_tags") is not None:
        tags = _hf_tags(obj, labels, where)
    else:
        tags = None
    if tags is not None:
        if len(tags) != len(tokens):
            raise DataError(f"{len(tokens)} tokens but {len(tags)} tags", **where)
        bad = [tag for tag in tags if not is_valid_tag(tag)]
        if bad:
            raise DataError(f"unknown tag {excerpt(bad[0])}; expected O, B-TYPE or I-TYPE", **where)
    offsets = None
    if obj.get("offsets") is not None:
        raw = obj["offsets"]
        if (
            not isinstance(raw, list)
            or len(raw) != len(tokens)
            or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(n, int) for n in p) for p in raw)
        ):
            raise DataError("'offsets' must be one [start, end] integer pair per token", **where)
        offsets = tuple((p[0], p[1]) for p in raw)
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise DataError("'text' must be a string", **where)
    provenance = obj.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise DataError("'provenance' must be an object", **where)
    return Record(
        id=str(record_id),
        tokens=tokens,
        tags=tags,
        text=text,
        offsets=offsets,
        source=str(obj.get("source") or ""),
        provenance=provenance,
    )


def iter_json_lines(
    path: str | os.PathLike[str], *, bad_lines: list[DataError] | None = None
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Yield ``(decoded_object, where)`` per non-blank line; ``where`` (path, line) is for the caller's errors.

    With ``bad_lines``, a line that is not UTF-8 or not JSON is appended there as its DataError and reading goes
    on (an import that skips bad rows); without it, the first one is raised.

    Raises:
        DataError: a missing file, invalid UTF-8, invalid or too deeply nested JSON, naming the file and line.
    """
    path = Path(path)
    try:
        for line_no, line in iter_utf8_lines(path, bad_lines=bad_lines):
            if line.strip():
                where = {"path": path, "line": line_no}
                try:
                    obj = loads_json_line(line, **where)
                except DataError as err:
                    if bad_lines is None:
                        raise
                    bad_lines.append(err)
                    continue
                yield obj, where
    except FileNotFoundError as err:
        raise DataError("file not found", path=path) from err


def iter_jsonl(
    path: str | os.PathLike[str], *, labels: Sequence[str] | None = None, allowed: Collection[str] | None = None
) -> Iterator[Record]:
    """Stream records from a JSONL file (``-``: stdin); blank lines are skipped; ``labels``: see parse_record;
    ``allowed``: the run's label set, a tag outside it is an error.

    Raises:
        DataError: invalid UTF-8 or JSON, a missing or ill-typed field, a tag outside ``allowed``, an empty file
            (file and line named).
    """
    count = 0
    stem = input_stem(path)
    for obj, where in iter_json_lines(path):
        record = parse_record(obj, default_id=f"{stem}:{where['line']}", labels=labels, **where)
        unknown = sorted(set(record.tags or ()) - set(allowed)) if allowed is not None else []
        if unknown:
            raise DataError(unknown_tag_message(unknown[0], allowed or ()), **where)
        yield record
        count += 1
    if count == 0:
        raise DataError("no records found (empty file?)", path=path)


def read_jsonl(path: str | os.PathLike[str], *, labels: Sequence[str] | None = None) -> list[Record]:
    """All records of a JSONL file; see :func:`iter_jsonl`."""
    return list(iter_jsonl(path, labels=labels))


# characters that str.splitlines() and some JSONL tools treat as line breaks: always escaped
_LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def dumps_record(record: Record) -> str:
    """One JSONL line (with newline); keys sorted so identical records give identical bytes."""
    line = json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True)
    for char, escaped in _LINE_BREAKS.items():
        line = line.replace(char, escaped)
    return line + "\n"


def write_jsonl(records: Iterable[Record], path: str | os.PathLike[str]) -> int:
    """Write records atomically; returns how many were written."""
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(dumps_record(record))
            count += 1
    return count
