"""A tiny real grid: random 2-layer BERT, a dozen sentences, every stage of the runner, then resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from offline_ner.data import Record, write_conll
from offline_ner.errors import DataError
from offline_ner.experiment import experiment_from_mapping, import_runs_csv, run_experiment

NAMES = [("Anna", "Berg"), ("Otto", "Lind"), ("Mia", "Holm")]


def sentences(n: int, offset: int = 0) -> list[Record]:
    records = []
    for i in range(n):
        first, last = NAMES[(i + offset) % len(NAMES)]
        records.append(Record(id=f"r:{i}", tokens=(first, last, "visited", "Tarrow", "."),
                              tags=("B-PER", "I-PER", "O", "B-LOC", "O")))
    return records


@pytest.fixture
def grid(tmp_path: Path, tiny_bert_dir: Path) -> dict[str, Any]:
    write_conll(sentences(12), tmp_path / "train.conll")
    write_conll(sentences(4, 1), tmp_path / "dev.conll")
    llm_tags = ["B-ORG", "I-ORG", "O", "O", "O"]
    rows = [{"conll_train_sentence_index": i, "tokens": list(r.tokens), "noise_llm": llm_tags}
            for i, r in enumerate(sentences(6))]
    (tmp_path / "nb.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "name": "tiny",
        "out_dir": str(tmp_path / "out"),
        "gold": str(tmp_path / "train.conll"),
        "distilled": {"llm": {"path": str(tmp_path / "nb.jsonl"), "format": "noisebench", "id_prefix": "train"}},
        "dev": str(tmp_path / "dev.conll"),
        "test": str(tmp_path / "dev.conll"),
        "gold_sizes": [4],
        "seeds": [1],
        "step_budget": 4,
        "train": {"base_model": str(tiny_bert_dir), "batch_size": 4, "max_length": 16, "eval_every_steps": 2,
                  "logging_steps": 1, "torch_threads": 1},
        "arms": [
            {"name": "gold-only", "regimen": "gold"},
            {"name": "simple-mix", "regimen": "distilled_then_gold"},
            {"name": "sigmoid", "regimen": "blend", "schedule": {"kind": "sigmoid", "k": 10}},
            {"name": "mix+agree", "regimen": "distilled_then_gold",
             "selection": {"teacher": "gold-only", "min_agreement": 0.0}},
        ],
    }


def test_tiny_grid_runs_every_cell_writes_the_report_and_resumes_without_rerunning(grid: dict[str, Any]) -> None:
    logs: list[str] = []
    first = run_experiment(experiment_from_mapping(grid), progress=False, log=logs.append)
    assert first.ran == ("gold-only_gold=4_seed=1", "simple-mix_gold=4_seed=1", "sigmoid_gold=4_seed=1",
                         "mix+agree_gold=4_seed=1")
    rows = [json.loads(line) for line in first.results_path.read_text().splitlines()]
    assert [r["steps"] for r in rows] == [4, 4, 4, 4]  # the equal step budget, split over two phases
    agree = rows[-1]
    assert agree["n_distilled_offered"] == 6 and 0 <= agree["n_distilled"] <= 6
    assert all(0.0 <= r["test"]["f1"] <= 1.0 and r["wall_s"] > 0 for r in rows)
    table = first.table_path.read_text()
    assert table.count("\n") == 2 + 4 and "| simple-mix | distilled_then_gold | 4 | 1 |" in table
    assert {p.name for p in first.plot_paths} == {"f1_by_arm.png", "schedules.png"}
    assert all(p.stat().st_size > 1000 for p in first.plot_paths)
    # each run's test tags stay for paired significance tests, one tag list per test sentence
    for row in rows:
        tags = json.loads((Path(grid["out_dir"]) / "predictions" / f"{row['cell_id']}.json").read_text())
        assert [len(t) for t in tags] == [5, 5, 5, 5]
    runs = (Path(grid["out_dir"]) / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 4 and all(line.split(",")[4] == "1" for line in runs[1:])  # one line per run, its seed
    significance = (Path(grid["out_dir"]) / "significance.md").read_text()
    assert [line.split(" | ")[0] for line in significance.splitlines()[2:]] == ["| simple-mix", "| sigmoid",
                                                                                 "| mix+agree"]
    # only the selection teacher's model is kept on disk
    assert sorted(p.name for p in (Path(grid["out_dir"]) / "runs").iterdir()) == ["gold-only_gold=4_seed=1"]

    again = run_experiment(experiment_from_mapping(grid), progress=False, log=logs.append)
    assert again.ran == () and len(again.skipped) == 4
    assert len(again.results_path.read_text().splitlines()) == 4

    more = run_experiment(experiment_from_mapping({**grid, "seeds": [1, 2], "arms": grid["arms"][:1]}),
                          progress=False, log=logs.append)
    assert more.ran == ("gold-only_gold=4_seed=2",)


def test_agreement_student_finds_its_teacher_when_the_grid_resumes_from_another_directory(
        grid: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arms = [grid["arms"][0], grid["arms"][3]]  # gold-only and its agreement student
    monkeypatch.chdir(tmp_path)
    first = run_experiment(experiment_from_mapping({**grid, "arms": arms, "out_dir": "out"}),
                           progress=False, log=lambda _: None, only=("gold-only",))
    assert first.ran == ("gold-only_gold=4_seed=1",)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = run_experiment(experiment_from_mapping({**grid, "arms": arms, "out_dir": str(tmp_path / "out")}),
                           progress=False, log=lambda _: None)
    assert again.ran == ("mix+agree_gold=4_seed=1",)


def test_a_grid_whose_results_file_is_lost_resumes_from_its_published_runs_csv(
        grid: dict[str, Any], tmp_path: Path) -> None:
    arms = grid["arms"][:2]
    first = run_experiment(experiment_from_mapping({**grid, "arms": arms}), progress=False, log=lambda _: None)
    published = tmp_path / "published.csv"
    shutil.copy(first.out_dir / "runs.csv", published)
    shutil.rmtree(first.out_dir)  # the run folder is gone; the published raw rows survive

    cfg = experiment_from_mapping({**grid, "arms": arms, "seeds": [1, 2]})
    assert import_runs_csv(cfg, published) == 2
    assert import_runs_csv(cfg, published) == 0  # importing twice adds nothing
    resumed = run_experiment(cfg, progress=False, log=lambda _: None)
    assert resumed.ran == ("gold-only_gold=4_seed=2", "simple-mix_gold=4_seed=2")  # only what the rows lack
    runs = (resumed.out_dir / "runs.csv").read_text().splitlines()
    assert set(published.read_text().splitlines()) <= set(runs) and len(runs) == 1 + 4
    assert "| simple-mix | distilled_then_gold | 4 | 1,2 |" in resumed.table_path.read_text()


def test_rows_another_recipe_made_are_refused_with_their_line(grid: dict[str, Any], tmp_path: Path) -> None:
    first = run_experiment(experiment_from_mapping({**grid, "arms": grid["arms"][:1]}), progress=False,
                           log=lambda _: None)
    changed = experiment_from_mapping({**grid, "arms": grid["arms"][:1], "out_dir": str(tmp_path / "other"),
                                       "train": {**grid["train"], "batch_size": 2}})
    with pytest.raises(DataError, match=r"runs\.csv:2: row gold-only gold=4 seed=1 is not a cell of 'tiny'"):
        import_runs_csv(changed, first.out_dir / "runs.csv")
    assert not (tmp_path / "other" / "results.jsonl").exists()  # nothing half-imported
