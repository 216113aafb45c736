"""Import existing LLM label files (JSONL or CoNLL columns) as an annotation folder with provenance and QA.

Labels someone already paid for (e.g. NoiseBench's GPT labels of CoNLL-2003) become the same records, provenance
and QA report as a fresh run, so they can be bundled and trained on. LLM tags with IOB2 defects (a dangling
``I-X``) are repaired to ``B-X`` and counted; an unknown tag is a DataError naming the line.

- JSONL: one object per line with a token list (``tokens``), the LLM tags (``--llm-field``) and optionally gold
  (``--gold-field``) and an id (``--id-field``; else ``<file stem>:<line index>``). Other scalar fields are kept
  in each record's provenance under ``source_fields``.
- CoNLL: whitespace-separated columns, blank line between sentences; token in column 0, LLM tags in
  ``llm_column`` (default: last), gold in ``gold_column`` (optional).

Published LLM outputs have bad rows (PromptNER has a tag ``B-presumably referring to American Airlines``, others
rows without tokens). ``on_error`` says what one bad row does: ``raise`` (default) stops with a DataError naming
the line; ``skip`` drops the row; ``repair`` replaces each malformed LLM tag with ``O`` and drops only rows that
cannot be repaired (no tokens, wrong length, bad gold, broken JSON). Either way the provenance counts the skipped
rows and replaced tags and lists the first problems by line, and QA counts a skipped row's gold entities as
misses. Gold is never repaired.

Example::

    result = import_labels(Path("noisebench_conll03_aligned.jsonl"), llm_field="noise_llm",
                           gold_field="gold_conll2003", model="gpt-3.5-turbo (NoiseBench)")
    result.qa["final"]["overall"]["f1"]     # 0.554
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from offline_ner.annotate.assemble import AnnotationResult, qa_with_selection
from offline_ner.annotate.input_files import input_digests
from offline_ner.data import Record, is_valid_tag, iter_json_lines, repair_iob2
from offline_ner.data.lines import excerpt, iter_utf8_lines
from offline_ner.errors import DataError

OnError = Literal["raise", "skip", "repair"]
ON_ERROR_CHOICES: tuple[OnError, ...] = get_args(OnError)
MAX_LISTED_PROBLEMS = 100  # provenance lists the first problems by line; the counts cover them all


@dataclass(frozen=True)
class ImportSpec:
    """Where the tokens and the two tag sequences are in the file, and what one bad row does."""

    llm_field: str = "llm"
    gold_field: str | None = None
    id_field: str | None = None
    tokens_field: str = "tokens"
    llm_column: int = -1
    gold_column: int | None = None
    model: str = "unknown"
    on_error: OnError = "raise"


@dataclass(frozen=True)
class _Row:
    """One sentence or JSONL row; ``lines`` holds the line of each token (JSONL: the row's one line)."""

    record_id: str
    lines: list[int]
    tokens: list[str]
    llm: Any
    gold: Any
    scalars: dict[str, Any]

    @property
    def line(self) -> int:
        return self.lines[0]


def _tags(
    value: Any, n_tokens: int, what: str, path: Path, lines: list[int], *, replace_bad: bool = False
) -> tuple[str, ...]:
    """Check one sentence's tags; ``lines`` holds the line of each token (one line for a JSONL row), so an error
    names the bad tag's line. With ``replace_bad`` malformed tags become ``O`` (the caller counts them)."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(f"{what} must be a list of tag strings", path=path, line=lines[0])
    if len(value) != n_tokens:
        raise DataError(f"{n_tokens} tokens but {len(value)} {what} tags", path=path, line=lines[0])
    if not replace_bad:
        for index, tag in enumerate(value):
            if not is_valid_tag(tag):
                line = lines[index] if len(lines) == len(value) else lines[0]
                expected = "expected O, B-TYPE or I-TYPE"
                raise DataError(f"unknown {what} tag {excerpt(tag)}; {expected}", path=path, line=line)
    return tuple(t if is_valid_tag(t) else "O" for t in value)


def _jsonl_rows(path: Path, spec: ImportSpec) -> Iterator[_Row | DataError]:
    bad_lines: list[DataError] = []
    broken = 0
    for position, (obj, where) in enumerate(iter_json_lines(path, bad_lines=bad_lines)):
        yield from bad_lines  # lines before this one that were not JSON
        broken += len(bad_lines)
        bad_lines.clear()
        index = position + broken  # ids count broken lines too, so fixing one later renames nothing
        if not isinstance(obj, dict) or spec.llm_field not in obj or spec.tokens_field not in obj:
            yield DataError(f"expected an object with {spec.tokens_field!r} and {spec.llm_field!r}", **where)
            continue
        tokens = obj[spec.tokens_field]
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            yield DataError(f"{spec.tokens_field!r} must be a non-empty list of strings", **where)
            continue
        record_id = str(obj[spec.id_field]) if spec.id_field else f"{path.stem}:{index}"
        gold = obj.get(spec.gold_field) if spec.gold_field else None
        if spec.gold_field and gold is None:
            yield DataError(f"missing gold field {spec.gold_field!r}", **where)
            continue
        scalars = {k: v for k, v in obj.items() if isinstance(v, (str, int, float, bool)) and k != spec.id_field}
        yield _Row(record_id, [where["line"]], tokens, obj[spec.llm_field], gold, scalars)
    yield from bad_lines


def _conll_rows(path: Path, spec: ImportSpec) -> Iterator[_Row | DataError]:
    """One row per sentence; a sentence with a bad line yields that line's DataError instead."""
    rows: list[list[str]] = []
    lines: list[int] = []
    index = 0
    problem: DataError | None = None
    # with on_error="raise" the first undecodable line is raised; otherwise it makes its sentence a bad row
    undecodable: list[DataError] | None = None if spec.on_error == "raise" else []

    def sentence() -> _Row | DataError:
        if problem is not None:
            return problem
        gold = [r[spec.gold_column] for r in rows] if spec.gold_column is not None else None
        return _Row(f"{path.stem}:{index}", lines, [r[0] for r in rows], [r[spec.llm_column] for r in rows], gold, {})

    for line_no, line in iter_utf8_lines(path, bad_lines=undecodable):
        if undecodable:
            problem = problem or undecodable[0]
            undecodable.clear()
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if rows or problem is not None:
                yield sentence()
                index += 1
                rows, lines, problem = [], [], None
            continue
        for column in (spec.llm_column, spec.gold_column):
            if column is not None and not -len(fields) <= column < len(fields) or len(fields) < 2:
                problem = problem or DataError(
                    f"column {column} missing: the line has {len(fields)} columns", path=path, line=line_no
                )
        rows.append(fields)
        lines.append(line_no)
    if undecodable:
        problem = problem or undecodable[0]
    if rows or problem is not None:
        yield sentence()


def _readable_gold(row: _Row, path: Path) -> tuple[str, ...] | None:
    """A skipped row's gold tags when they are usable, so QA can count its entities as misses."""
    try:
        return _tags(row.gold, len(row.tokens), "gold", path, row.lines) if row.gold is not None else None
    except DataError:
        return None


def import_labels(path: Path, spec: ImportSpec) -> AnnotationResult:
    """Records with the LLM's (repaired) tags, the provenance summary, and QA when gold is given.

    Raises:
        DataError: unreadable file, duplicate ids, no usable record; with ``on_error="raise"`` also missing
            fields, length mismatches and unknown tags.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    if spec.on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error={spec.on_error!r}; expected one of {ON_ERROR_CHOICES}")
    is_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    rows = _jsonl_rows(path, spec) if is_jsonl else _conll_rows(path, spec)
    records: list[Record] = []
    gold: dict[str, tuple[str, ...]] = {}
    problems: list[dict[str, Any]] = []
    skipped = repaired_total = replaced_total = 0
    first_line: dict[str, int] = {}  # record id -> the line it was first read from
    for row in rows:
        try:
            if isinstance(row, DataError):
                raise row
            replace_bad = spec.on_error == "repair"
            raw_tags = _tags(row.llm, len(row.tokens), "LLM", path, row.lines, replace_bad=replace_bad)
            row_gold = _tags(row.gold, len(row.tokens), "gold", path, row.lines) if row.gold is not None else None
            if row.record_id in first_line:  # a bad row like any other: --on-error skip skips it, naming both
                raise DataError(f"record id {excerpt(row.record_id)} also on line {first_line[row.record_id]}; ids "
                                "must be unique (choose another --id-field)", path=path, line=row.line)
        except DataError as err:
            if spec.on_error == "raise":
                raise
            skipped += 1
            reason = str(err).removeprefix(f"{path}:{err.line}: ")
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append({"line": err.line, "reason": reason})
            if isinstance(row, _Row) and (readable := _readable_gold(row, path)):
                gold[row.record_id] = readable
            continue
        first_line[row.record_id] = row.line
        replaced = sum(not is_valid_tag(t) for t in row.llm)
        replaced_total += replaced
        tags, repaired = repair_iob2(raw_tags)
        repaired_total += repaired
        if row_gold is not None:
            gold[row.record_id] = row_gold
        provenance: dict[str, Any] = {
            "annotator": "llm-import",
            "model": spec.model,
            "source_file": path.name,
            "line": row.line,
            "iob2_repaired": repaired,
        }
        if replaced:
            provenance["tags_replaced"] = replaced
        if row.scalars:
            provenance["source_fields"] = row.scalars
        records.append(Record(row.record_id, tuple(row.tokens), tags, source=path.name, provenance=provenance))
    if not records:
        raise DataError("no usable records found (empty file, or every row was bad)", path=path)
    qa = qa_with_selection(records, records, gold)
    provenance_summary = {
        "kind": "annotations",
        "mode": "import",
        "complete": True,
        "models": [spec.model],
        "inputs": input_digests(path),
        "fields": {
            "llm": spec.llm_field if is_jsonl else f"column {spec.llm_column}",
            "gold": spec.gold_field if is_jsonl else spec.gold_column,
        },
        "records_in": len(records) + skipped,
        "records_out": len(records),
        "iob2_repaired": repaired_total,
        "on_error": {
            "mode": spec.on_error,
            "skipped_rows": skipped,
            "repaired_tags": replaced_total,
            "problems": problems,
        },
        "qa": qa["final"]["overall"] if qa else None,
        "coverage": qa["coverage"] if qa else None,
    }
    return AnnotationResult(tuple(records), provenance_summary, qa)
