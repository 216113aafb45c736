"""`experiment --import-rows`: every row of a runs.csv is checked before any is stored (issue 28, items 7-9).

A NaN F1 was stored and every later ``--report-only`` exited 1; two rows for one cell were averaged (seeds
"1,1,2,3"); an F1 of 5.0 passed; a label that is not the cell's (``=HYPERLINK(...)``) reached results.md. A short
row, bytes that are not UTF-8 or a field over csv's 128 KiB limit exited 1; a BOM broke the header.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from offline_ner.errors import DataError
from offline_ner.experiment import experiment_from_mapping, import_runs_csv, markdown_table, runs_csv, summarise
from offline_ner.experiment.config import ExperimentConfig
from offline_ner.experiment.grid import expand_grid


@pytest.fixture
def cfg(tmp_path: Path) -> ExperimentConfig:
    conll = tmp_path / "train.conll"
    conll.write_text("Anna B-PER\n", encoding="utf-8")
    return experiment_from_mapping({
        "name": "tiny", "out_dir": str(tmp_path / "out"), "gold": str(conll), "dev": str(conll), "test": str(conll),
        "distilled": {"llm": {"path": str(tmp_path / "nb.jsonl"), "format": "noisebench", "id_prefix": "train"}},
        "gold_sizes": [4], "seeds": [1, 2], "step_budget": 4, "train": {"base_model": str(tmp_path / "model")},
        "arms": [{"name": "gold-only", "regimen": "gold"}],
    })


def _rows(cfg: ExperimentConfig) -> list[dict[str, Any]]:
    per_type = {"PER": 0.8, "ORG": 0.6, "LOC": 0.7, "MISC": 0.5}
    return [{"arm": c.arm, "label": c.label, "regimen": c.regimen, "gold_size": c.gold_size, "seed": c.seed,
             "fingerprint": c.fingerprint, "test": {"f1": 0.7, "precision": 0.7, "recall": 0.7, "per_type_f1": per_type},
             "dev_f1": 0.71, "steps": 4, "wall_s": 1.5, "n_gold": 4, "n_distilled": 0} for c in expand_grid(cfg)]


def _write(path: Path, rows: list[dict[str, Any]], edit: dict[str, str] | None = None, line: int = 2) -> Path:
    """``rows`` as a runs.csv, with the fields in ``edit`` replaced on ``line``."""
    table = list(csv.reader(io.StringIO(runs_csv(rows))))
    for column, value in (edit or {}).items():
        table[line - 1][table[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _results(cfg: ExperimentConfig) -> Path:
    return Path(cfg.out_dir) / "results.jsonl"


@pytest.mark.parametrize(("column", "value", "message"), [
    ("test_f1", "nan", "test_f1: expected a score from 0 to 1, got 'nan'"),
    ("test_f1", "5.0", "test_f1: expected a score from 0 to 1, got '5.0'"),
    ("PER_f1", "-0.1", "PER_f1: expected a score from 0 to 1"),
    ("wall_s", "inf", "wall_s: expected a finite number >= 0"),
    ("steps", "-4", "steps: expected a finite number >= 0"),
])
def test_a_score_outside_0_to_1_or_a_nan_is_refused_and_nothing_stored(
        cfg: ExperimentConfig, tmp_path: Path, column: str, value: str, message: str) -> None:
    path = _write(tmp_path / "runs.csv", _rows(cfg), {column: value}, line=3)
    with pytest.raises(DataError, match=rf"runs\.csv:3: {message}"):
        import_runs_csv(cfg, path)
    assert not _results(cfg).exists()


def test_two_rows_for_one_cell_are_refused_naming_both_lines(cfg: ExperimentConfig, tmp_path: Path) -> None:
    rows = _rows(cfg)
    path = _write(tmp_path / "runs.csv", [rows[0], rows[1], {**rows[0], "test": {**rows[0]["test"], "f1": 0.1}}])
    with pytest.raises(DataError, match=r"runs\.csv:4: run gold-only gold=4 seed=1 .* also on line 2"):
        import_runs_csv(cfg, path)
    assert not _results(cfg).exists()


def test_a_label_that_is_not_the_cells_is_refused(cfg: ExperimentConfig, tmp_path: Path) -> None:
    path = _write(tmp_path / "runs.csv", _rows(cfg), {"label": '=HYPERLINK("http://evil.example","click")'})
    with pytest.raises(DataError, match=r"runs\.csv:2: row gold-only gold=4 seed=1: label '=HYPERLINK.* not the cell's"):
        import_runs_csv(cfg, path)
    assert not _results(cfg).exists()


def test_a_label_with_markdown_or_formula_characters_shows_literally_in_the_table() -> None:
    row = {"label": "=a|b\nc", "regimen": "gold", "gold_size": 4, "seed": 1, "fingerprint": "x",
           "test": {"f1": 0.5, "per_type_f1": {}}, "dev_f1": None, "steps": 1, "wall_s": 1.0, "n_distilled": 0}
    line = markdown_table(summarise([row])).splitlines()[2]
    assert line.startswith("| \\=a\\|b c | gold | 4 | 1 |")
    assert line.count(" | ") == markdown_table(summarise([row])).splitlines()[0].count(" | ")


def test_a_short_row_a_long_row_bad_bytes_and_a_huge_field_name_their_line(
        cfg: ExperimentConfig, tmp_path: Path) -> None:
    good = runs_csv(_rows(cfg)).splitlines()
    cases = {
        "short": ("\n".join([good[0], good[1], "gold-only,gold-only,gold,4"]) + "\n", 3, "expected 21 fields, found 4"),
        "long": ("\n".join([good[0], good[1] + ",extra"]) + "\n", 2, "expected 21 fields, found 22"),
        "huge": ("\n".join([good[0], good[1], 'gold-only,"' + "x" * 200_000 + '"']) + "\n", 3, "not readable CSV"),
    }
    for name, (text, line, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=rf"{name}\.csv:{line}: {message}"):
            import_runs_csv(cfg, path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("\n".join(good) + "\n").encode() + b"M\xfcller\n")
    with pytest.raises(DataError, match=r"latin\.csv:4: not valid UTF-8"):
        import_runs_csv(cfg, latin)
    assert not _results(cfg).exists()


def test_a_runs_csv_with_a_bom_reads_like_every_other_file(cfg: ExperimentConfig, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + runs_csv(_rows(cfg)).encode())
    assert import_runs_csv(cfg, path) == 2
