"""Aggregate result rows over seeds and render them: a Markdown table and a CSV. Pure functions, no I/O.

Each group is one arm label at one gold size; the table shows test F1 mean ± std over seeds (sample std, n-1),
per-type F1 means, dev F1, optimizer steps, wall time and how many distilled sentences the run trained on, so a
regimen's F1 is always read beside what it cost. A second table says what each selection arm kept, masked or
relabelled, per entity type. :func:`runs_csv` keeps every run's own row; :func:`parse_runs_csv` reads
it back.

Example::

    summaries = summarise(rows)
    print(markdown_table(summaries))
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offline_ner.data import CONLL_TYPES
from offline_ner.data.lines import excerpt
from offline_ner.errors import DataError


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation of one quantity over seeds (std is 0.0 for a single seed)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            return cls(float("nan"), float("nan"), 0)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, len(values))


@dataclass(frozen=True)
class Summary:
    """One table row: an arm label at one gold size, over its seeds."""

    label: str
    regimen: str
    gold_size: int | str
    seeds: tuple[int, ...]
    test_f1: Stat
    per_type_f1: Mapping[str, Stat]
    dev_f1: Stat
    steps: Stat
    wall_s: Stat
    n_distilled: Stat


def summarise(rows: Iterable[Mapping[str, Any]]) -> list[Summary]:
    """Group rows by (label, gold size), in first-seen order, and take mean ± std over seeds."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["label"], str(row["gold_size"])), []).append(row)
    summaries = []
    for group in groups.values():
        first = group[0]
        per_type = {t: Stat.of([r["test"]["per_type_f1"][t] for r in group if t in r["test"]["per_type_f1"]])
                    for t in CONLL_TYPES}
        summaries.append(
            Summary(
                label=first["label"],
                regimen=first["regimen"],
                gold_size=first["gold_size"],
                seeds=tuple(sorted(r["seed"] for r in group)),
                test_f1=Stat.of([r["test"]["f1"] for r in group]),
                per_type_f1=per_type,
                dev_f1=Stat.of([r["dev_f1"] for r in group if r.get("dev_f1") is not None]),
                steps=Stat.of([r["steps"] for r in group]),
                wall_s=Stat.of([r["wall_s"] for r in group]),
                n_distilled=Stat.of([r["n_distilled"] for r in group]),
            )
        )
    return summaries


def format_stat(stat: Stat, digits: int = 3) -> str:
    if stat.n == 0:
        return "–"
    return f"{stat.mean:.{digits}f} ± {stat.std:.{digits}f}" if stat.n > 1 else f"{stat.mean:.{digits}f}"


COLUMNS = ["arm", "regimen", "gold", "seeds", "test F1", *CONLL_TYPES, "dev F1", "steps", "wall s", "distilled"]


def markdown_table(summaries: Iterable[Summary]) -> str:
    """A GitHub Markdown table; F1 as mean ± std over the listed seeds."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for s in summaries:
        cells = [
            _md(s.label), _md(s.regimen), _md(str(s.gold_size)), ",".join(map(str, s.seeds)), format_stat(s.test_f1),
            *(format_stat(s.per_type_f1[t], 2) for t in CONLL_TYPES), format_stat(s.dev_f1),
            f"{s.steps.mean:.0f}", f"{s.wall_s.mean:.0f}", f"{s.n_distilled.mean:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """A table cell's text shown literally: ``|`` and line breaks would end the cell or the row, and a leading
    ``=``, ``+`` or ``@`` makes a formula of it where the table is pasted into a spreadsheet."""
    escaped = " ".join(text.split()).replace("|", "\\|")
    return "\\" + escaped if escaped[:1] in ("=", "+", "@") else escaped


def csv_text(summaries: Iterable[Summary]) -> str:
    """The same numbers as the table, one column per mean and std."""
    header = ["arm", "regimen", "gold_size", "seeds", "test_f1_mean", "test_f1_std"]
    header += [f"{t}_f1_{k}" for t in CONLL_TYPES for k in ("mean", "std")]
    header += ["dev_f1_mean", "steps_mean", "wall_s_mean", "n_distilled_mean"]
    rows = []
    for s in summaries:
        row: list[Any] = [s.label, s.regimen, s.gold_size, " ".join(map(str, s.seeds)), s.test_f1.mean, s.test_f1.std]
        row += [v for t in CONLL_TYPES for v in (s.per_type_f1[t].mean, s.per_type_f1[t].std)]
        row += [s.dev_f1.mean, s.steps.mean, s.wall_s.mean, s.n_distilled.mean]
        rows.append(row)
    return _csv(header, rows)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text: floats to 4 decimals, a missing value (None) as an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else f"{v:.4f}" if isinstance(v, float) else v for v in row])
    return out.getvalue()


RUN_COLUMNS = ["arm", "label", "regimen", "gold_size", "seed", "test_f1", "test_precision", "test_recall",
               *(f"{t}_f1" for t in CONLL_TYPES), "dev_f1", "steps", "wall_s", "n_gold", "n_distilled",
               "n_distilled_offered", "distilled_source", "fingerprint", "finished_at"]


def runs_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """One line per run, before any aggregation: the raw rows a reader re-analyses (paired by seed, say)."""
    return _csv(RUN_COLUMNS, (
        [r["arm"], r["label"], r["regimen"], r["gold_size"], r["seed"], r["test"]["f1"], r["test"].get("precision"),
         r["test"].get("recall"), *(r["test"]["per_type_f1"].get(t) for t in CONLL_TYPES), r.get("dev_f1"),
         r["steps"], r["wall_s"], r.get("n_gold"), r["n_distilled"], r.get("n_distilled_offered"),
         r.get("distilled_source"), r["fingerprint"], r.get("finished_at")]
        for r in rows
    ))


def parse_runs_csv(text: str, source: str) -> list[dict[str, Any]]:
    """The rows a :func:`runs_csv` file holds, as result rows, so that a published table can be rebuilt and its
    grid resumed when ``results.jsonl`` is gone. A parsed row has no ``cell_id``, test tags, selection report or
    model folder (runs.csv keeps none of them), so neither ``significance.md`` nor ``selection.md`` covers it.

    Raises:
        DataError: the header is not :data:`RUN_COLUMNS`, a row has too few or too many fields, a field is over
            csv's 128 KiB limit, a value is not a number or out of its range (a score outside 0..1, NaN, a
            negative count), or a run (fingerprint) appears twice (``source``, line).
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), restkey=_EXTRA)
    rows: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    try:
        if reader.fieldnames != RUN_COLUMNS:
            raise DataError(f"not a runs.csv header: expected {','.join(RUN_COLUMNS)}", path=source, line=1)
        for fields in reader:
            line = reader.line_num
            if _EXTRA in fields or None in fields.values():
                found = len(RUN_COLUMNS) + len(fields.get(_EXTRA, ())) - list(fields.values()).count(None)
                raise DataError(f"expected {len(RUN_COLUMNS)} fields, found {found}", path=source, line=line)
            row = _parsed_run(fields, source, line)
            if row["fingerprint"] in first_line:
                raise DataError(f"run {row['arm']} gold={row['gold_size']} seed={row['seed']} (fingerprint "
                                f"{row['fingerprint']}) also on line {first_line[row['fingerprint']]}; a run is "
                                "listed once", path=source, line=line)
            first_line[row["fingerprint"]] = line
            rows.append(row)
    except csv.Error as err:  # a field over csv.field_size_limit(): line_num counts the lines read before it
        raise DataError(f"not readable CSV: {err}", path=source, line=reader.line_num + 1) from None
    return rows


_EXTRA = "\x00extra"  # DictReader's key for the fields beyond the header (restkey)
# the columns that hold a score (F1, precision, recall): a number from 0 to 1
_SCORES = {"test_f1", "test_precision", "test_recall", "dev_f1", *(f"{t}_f1" for t in CONLL_TYPES)}


def _parsed_run(fields: Mapping[str, str], source: str, line: int) -> dict[str, Any]:
    def number(column: str, kind: type = float) -> Any:
        value = fields[column]
        try:
            parsed = None if value == "" else kind(value)
        except ValueError:
            raise DataError(f"{column}: expected a number, got {excerpt(value)}", path=source, line=line) from None
        if parsed is None:
            return None
        if column in _SCORES and not 0.0 <= parsed <= 1.0:  # also NaN
            raise DataError(f"{column}: expected a score from 0 to 1, got {value!r}", path=source, line=line)
        if not math.isfinite(parsed) or parsed < 0:
            raise DataError(f"{column}: expected a finite number >= 0, got {value!r}", path=source, line=line)
        return parsed

    gold_size = fields["gold_size"]
    if number("seed", int) is None or number("test_f1") is None or fields["fingerprint"] == "":
        raise DataError("seed, test_f1 and fingerprint must not be empty", path=source, line=line)
    return {
        "arm": fields["arm"], "label": fields["label"], "regimen": fields["regimen"],
        "gold_size": int(gold_size) if gold_size.isdigit() else gold_size, "seed": number("seed", int),
        "fingerprint": fields["fingerprint"], "cell_id": None,
        "test": {"f1": number("test_f1"), "precision": number("test_precision"), "recall": number("test_recall"),
                 "per_type_f1": {t: number(f"{t}_f1") for t in CONLL_TYPES if fields[f"{t}_f1"] != ""}},
        "dev_f1": number("dev_f1"), "steps": number("steps", int), "wall_s": number("wall_s"),
        "n_gold": number("n_gold", int), "n_distilled": number("n_distilled", int),
        "n_distilled_offered": number("n_distilled_offered", int),
        "distilled_source": fields["distilled_source"] or None, "finished_at": fields["finished_at"] or None,
        "model_dir": None, "imported_from": source,
    }


# -- what each selection kept ----------------------------------------------------------------------------------

SELECTION_COLUMNS = ["arm", "kind", "gold", "seeds", "sentences kept", "tokens masked", "tokens relabelled",
                     *(f"{t} kept" for t in CONLL_TYPES)]


@dataclass(frozen=True)
class SelectionSummary:
    """One arm label at one gold size: what its selection did, as fractions (mean ± std over seeds)."""

    label: str
    kind: str
    gold_size: int | str
    seeds: tuple[int, ...]
    sentences_kept: Stat  # kept / offered sentences
    tokens_masked: Stat  # tokens without loss / offered tokens
    tokens_relabelled: Stat  # tokens whose tag changed / offered tokens
    entities_kept: Mapping[str, Stat]  # per type: LLM entities trained on unchanged / LLM entities offered
    entities_trained: Mapping[str, Stat]  # per type: entities trained on (relabelled ones too) / LLM entities


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _stat(values: Iterable[float | None]) -> Stat:
    return Stat.of([v for v in values if v is not None])


def _type_ratio(report: Mapping[str, Any], entity_type: str, key: str) -> float | None:
    row = report["per_type"].get(entity_type, {})
    return _ratio(row.get(key, 0), row.get("llm_entities", 0))


def summarise_selection(rows: Iterable[Mapping[str, Any]]) -> list[SelectionSummary]:
    """Group the rows that carry a ``selection_report`` by (label, gold size), in first-seen order."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("selection_report"):
            groups.setdefault((row["label"], str(row["gold_size"])), []).append(row)
    out = []
    for group in groups.values():
        reports = [r["selection_report"] for r in group]
        kept = {t: _stat([_type_ratio(rep, t, "kept_entities") for rep in reports]) for t in CONLL_TYPES}
        trained = {t: _stat([_type_ratio(rep, t, "trained_entities") for rep in reports]) for t in CONLL_TYPES}
        out.append(SelectionSummary(
            label=group[0]["label"], kind=reports[0]["kind"], gold_size=group[0]["gold_size"],
            seeds=tuple(sorted(r["seed"] for r in group)),
            sentences_kept=_stat([_ratio(rep["sentences"]["kept"], rep["sentences"]["offered"]) for rep in reports]),
            tokens_masked=_stat([_ratio(rep["tokens"]["masked"], rep["tokens"]["offered"]) for rep in reports]),
            tokens_relabelled=_stat([_ratio(rep["tokens"]["relabelled"], rep["tokens"]["offered"]) for rep in reports]),
            entities_kept=kept,
            entities_trained=trained,
        ))
    return out


def selection_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of what each selection kept (fractions, mean ± std over seeds); "" when none selected."""
    summaries = summarise_selection(rows)
    if not summaries:
        return ""
    lines = ["| " + " | ".join(SELECTION_COLUMNS) + " |", "|" + "---|" * len(SELECTION_COLUMNS)]
    for s in summaries:
        cells = [s.label, s.kind, str(s.gold_size), ",".join(map(str, s.seeds)), format_stat(s.sentences_kept, 2),
                 format_stat(s.tokens_masked, 2), format_stat(s.tokens_relabelled, 2), *(format_stat(s.entities_kept[t], 2) for t in CONLL_TYPES)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def selection_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The selection table's numbers (means over seeds), plus entities trained on per LLM entity per type."""
    header = ["arm", "kind", "gold_size", "seeds", "sentences_kept", "tokens_masked", "tokens_relabelled"]
    header += [f"{t}_{k}" for t in CONLL_TYPES for k in ("entities_kept", "entities_trained")]
    lines = []
    for s in summarise_selection(rows):
        row: list[Any] = [s.label, s.kind, s.gold_size, " ".join(map(str, s.seeds)), s.sentences_kept.mean,
                          s.tokens_masked.mean, s.tokens_relabelled.mean]
        row += [v for t in CONLL_TYPES for v in (s.entities_kept[t].mean, s.entities_trained[t].mean)]
        lines.append(row)
    return _csv(header, lines)
