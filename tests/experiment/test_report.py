"""Results rows → resumable store, and the table/CSV aggregated over seeds."""

from __future__ import annotations

import csv
import io
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from offline_ner.errors import DataError
from offline_ner.experiment import ResultStore, csv_text, markdown_table, parse_runs_csv, runs_csv, summarise


def row(label: str, seed: int, f1: float, gold_size: int | str = 1000, **extra: Any) -> dict[str, Any]:
    per_type = {"PER": f1 + 0.1, "ORG": f1 - 0.1, "LOC": f1, "MISC": f1 - 0.3}
    return {"fingerprint": f"{label}-{gold_size}-{seed}", "label": label, "regimen": "gold", "gold_size": gold_size,
            "seed": seed, "test": {"f1": f1, "per_type_f1": per_type}, "dev_f1": f1 + 0.02, "steps": 600,
            "wall_s": 100.0 + seed, "n_distilled": 0, **extra}


def test_summary_is_mean_and_sample_std_over_seeds_per_label_and_size() -> None:
    summaries = summarise([row("gold-only", 1, 0.70), row("gold-only", 2, 0.80), row("gold-only", 1, 0.5, 500)])
    first = summaries[0]
    assert (first.label, first.gold_size, first.seeds) == ("gold-only", 1000, (1, 2))
    assert first.test_f1.mean == pytest.approx(0.75)
    assert first.test_f1.std == pytest.approx(0.0707107, abs=1e-6)
    assert first.per_type_f1["MISC"].mean == pytest.approx(0.45)
    assert summaries[1].gold_size == 500 and summaries[1].test_f1.std == 0.0


def test_markdown_table_has_one_line_per_group_with_mean_plus_minus_std() -> None:
    table = markdown_table(summarise([row("simple-mix", 1, 0.70), row("simple-mix", 2, 0.80)]))
    lines = table.strip().splitlines()
    assert lines[0].startswith("| arm | regimen | gold | seeds | test F1 | PER | ORG | LOC | MISC |")
    assert len(lines) == 3
    assert "| simple-mix | gold | 1000 | 1,2 | 0.750 ± 0.071 |" in lines[2]


def test_csv_carries_the_same_numbers_as_the_table() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text(summarise([row("a", 1, 0.6), row("a", 2, 0.8)])))))
    assert len(rows) == 1
    assert float(rows[0]["test_f1_mean"]) == pytest.approx(0.7)
    assert float(rows[0]["MISC_f1_mean"]) == pytest.approx(0.4)
    assert rows[0]["seeds"] == "1 2"


def test_runs_csv_keeps_one_line_per_run_with_its_seed_and_scores() -> None:
    rows = [row("a", 1, 0.6, arm="a", n_gold=1000), row("a", 2, 0.8, arm="a", dev_f1=None)]
    lines = list(csv.DictReader(io.StringIO(runs_csv(rows))))
    assert [(r["arm"], r["seed"], float(r["test_f1"])) for r in lines] == [("a", "1", 0.6), ("a", "2", 0.8)]
    assert float(lines[0]["MISC_f1"]) == pytest.approx(0.3) and lines[0]["n_gold"] == "1000"
    assert lines[1]["dev_f1"] == "" and lines[1]["n_gold"] == ""  # missing values stay empty, not "None"


def test_parsed_runs_csv_writes_back_the_same_csv_and_summary() -> None:
    rows = [row("a", 1, 0.6, arm="a", n_gold=1000, n_distilled_offered=0),
            row("a", 2, 0.8, arm="a", dev_f1=None), row("b", 1, 0.7, "all", arm="b")]
    text = runs_csv(rows)
    parsed = parse_runs_csv(text, "runs.csv")
    assert runs_csv(parsed) == text
    assert [(r["gold_size"], r["seed"], r["dev_f1"]) for r in parsed] == [(1000, 1, 0.62), (1000, 2, None),
                                                                          ("all", 1, 0.72)]
    assert markdown_table(summarise(parsed)) == markdown_table(summarise(rows))


def test_a_runs_csv_with_a_bad_number_or_header_names_its_line() -> None:
    text = runs_csv([row("a", 1, 0.6, arm="a")])
    with pytest.raises(DataError, match=r"^old\.csv:2: steps: expected a number, got 'many'"):
        parse_runs_csv(text.replace(",600,", ",many,"), "old.csv")
    with pytest.raises(DataError, match=r"^old\.csv:1: not a runs\.csv header"):
        parse_runs_csv("arm,seed\na,1\n", "old.csv")


def test_store_appends_rows_and_a_later_row_for_a_fingerprint_wins(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results.jsonl")
    assert store.rows() == [] and store.finished() == {}
    store.append(row("a", 1, 0.5))
    store.append(row("a", 2, 0.6))
    store.append(row("a", 1, 0.7))
    assert len(store.rows()) == 3
    assert store.finished()["a-1000-1"]["test"]["f1"] == 0.7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl", "results.jsonl.lock"]  # no temp file


def _append_rows(path: Path, label: str, n: int) -> None:
    store = ResultStore(path)
    for seed in range(n):
        store.append(row(label, seed, 0.5))


def test_two_processes_appending_to_one_store_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_rows, args=(path, label, 40)) for label in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len(ResultStore(path).finished()) == 80


def test_corrupt_results_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"fingerprint": "x"}\n{not json\n')
    with pytest.raises(DataError, match=r"results.jsonl:2: not a JSON row"):
        ResultStore(path).rows()
