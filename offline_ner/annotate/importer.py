"""Import existing LLM label files (JSONL or CoNLL columns) as an annotation folder with provenance and QA.

Labels someone already paid for (e.g. NoiseBench's GPT labels of CoNLL-2003) become the same records, provenance
and QA report as a fresh run, so they can be bundled and trained on. LLM tags with IOB2 defects (a dangling
``I-X``) are repaired to ``B-X`` and counted; an unknown tag is a DataError naming the line.

- JSONL: one object per line with a token list (``tokens``), the LLM tags (``--llm-field``) and optionally gold
  (``--gold-field``) and an id (``--id-field``; else ``<file stem>:<line index>``). Other scalar fields are kept
  in each record's provenance under ``source_fields``.
- CoNLL: whitespace-separated columns, blank line between sentences; token in column 0, LLM tags in
  ``llm_column`` (default: last), gold in ``gold_column`` (optional).

Example::

    result = import_labels(Path("noisebench_conll03_aligned.jsonl"), llm_field="noise_llm",
                           gold_field="gold_conll2003", model="gpt-3.5-turbo (NoiseBench)")
    result.qa["final"]["overall"]["f1"]     # 0.554
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_ner.annotate.inputs import input_digests
from offline_ner.annotate.run import AnnotationResult, qa_with_selection
from offline_ner.data import Record, is_valid_tag, iter_json_lines, repair_iob2
from offline_ner.data.lines import excerpt, iter_utf8_lines
from offline_ner.errors import DataError

# one sentence or JSONL row: id, the line of each token (JSONL: of the row), tokens, LLM tags, gold tags, fields
Row = tuple[str, list[int], list[str], Any, Any, dict[str, Any]]


@dataclass(frozen=True)
class ImportSpec:
    """Where the tokens and the two tag sequences are in the file."""

    llm_field: str = "llm"
    gold_field: str | None = None
    id_field: str | None = None
    tokens_field: str = "tokens"
    llm_column: int = -1
    gold_column: int | None = None
    model: str = "unknown"


def _tags(value: Any, n_tokens: int, what: str, path: Path, lines: list[int]) -> tuple[str, ...]:
    """Check one sentence's tags; ``lines`` holds the line of each token (one line for a JSONL row)."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(f"{what} must be a list of tag strings", path=path, line=lines[0])
    if len(value) != n_tokens:
        raise DataError(f"{n_tokens} tokens but {len(value)} {what} tags", path=path, line=lines[0])
    for index, tag in enumerate(value):
        if not is_valid_tag(tag):
            line = lines[index] if len(lines) == len(value) else lines[0]
            raise DataError(f"unknown {what} tag {excerpt(tag)}; expected O, B-TYPE or I-TYPE", path=path, line=line)
    return tuple(value)


def _jsonl_rows(path: Path, spec: ImportSpec) -> Iterator[Row]:
    for index, (obj, where) in enumerate(iter_json_lines(path)):
        if not isinstance(obj, dict) or spec.llm_field not in obj or spec.tokens_field not in obj:
            raise DataError(f"expected an object with {spec.tokens_field!r} and {spec.llm_field!r}", **where)
        tokens = obj[spec.tokens_field]
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{spec.tokens_field!r} must be a non-empty list of strings", **where)
        record_id = str(obj[spec.id_field]) if spec.id_field else f"{path.stem}:{index}"
        gold = obj.get(spec.gold_field) if spec.gold_field else None
        if spec.gold_field and gold is None:
            raise DataError(f"missing gold field {spec.gold_field!r}", **where)
        scalars = {k: v for k, v in obj.items() if isinstance(v, (str, int, float, bool)) and k != spec.id_field}
        yield record_id, [where["line"]], tokens, obj[spec.llm_field], gold, scalars


def _conll_rows(path: Path, spec: ImportSpec) -> Iterator[Row]:
    rows: list[list[str]] = []
    lines: list[int] = []
    index = 0

    def sentence() -> Row:
        gold = [r[spec.gold_column] for r in rows] if spec.gold_column is not None else None
        return f"{path.stem}:{index}", lines, [r[0] for r in rows], [r[spec.llm_column] for r in rows], gold, {}

    for line_no, line in iter_utf8_lines(path):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if rows:
                yield sentence()
                index += 1
                rows, lines = [], []
            continue
        for column in (spec.llm_column, spec.gold_column):
            if column is not None and not -len(fields) <= column < len(fields) or len(fields) < 2:
                raise DataError(
                    f"column {column} missing: the line has {len(fields)} columns", path=path, line=line_no
                )
        rows.append(fields)
        lines.append(line_no)
    if rows:
        yield sentence()


def import_labels(path: Path, spec: ImportSpec) -> AnnotationResult:
    """Records with the LLM's (repaired) tags, the provenance summary, and QA when gold is given.

    Raises:
        DataError: unreadable file, missing fields, length mismatch, unknown tags, duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    rows = _jsonl_rows(path, spec) if path.suffix.lower() in (".jsonl", ".ndjson") else _conll_rows(path, spec)
    records: list[Record] = []
    gold: dict[str, tuple[str, ...]] = {}
    repaired_total = 0
    for record_id, lines, tokens, llm_tags, gold_tags, scalars in rows:
        tags, repaired = repair_iob2(_tags(llm_tags, len(tokens), "LLM", path, lines))
        repaired_total += repaired
        if gold_tags is not None:
            gold[record_id] = _tags(gold_tags, len(tokens), "gold", path, lines)
        provenance: dict[str, Any] = {
            "annotator": "llm-import",
            "model": spec.model,
            "source_file": path.name,
            "line": lines[0],
            "iob2_repaired": repaired,
        }
        if scalars:
            provenance["source_fields"] = scalars
        records.append(Record(record_id, tuple(tokens), tags, source=path.name, provenance=provenance))
    if not records:
        raise DataError("no records found (empty file?)", path=path)
    if len({r.id for r in records}) != len(records):
        raise DataError("record ids are not unique; choose another --id-field", path=path)
    qa = qa_with_selection(records, records, gold)
    provenance_summary = {
        "kind": "annotations",
        "mode": "import",
        "complete": True,
        "models": [spec.model],
        "inputs": input_digests(path),
        "fields": {
            "llm": spec.llm_field if path.suffix.lower() in (".jsonl", ".ndjson") else f"column {spec.llm_column}",
            "gold": spec.gold_field if path.suffix.lower() in (".jsonl", ".ndjson") else spec.gold_column,
        },
        "records_in": len(records),
        "records_out": len(records),
        "iob2_repaired": repaired_total,
        "qa": qa["final"]["overall"] if qa else None,
    }
    return AnnotationResult(tuple(records), provenance_summary, qa)
