"""Every selection kind in a tiny real grid: k-fold teachers trained once and shared, masks reach the trainer,
per-type reports next to the results, and a rerun that trains nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offline_ner.data import SAMPLE_TAGS_KEY, Record, write_conll, write_jsonl
from offline_ner.experiment import ExperimentData, expand_grid, experiment_from_mapping, run_experiment
from offline_ner.experiment.grid import teacher_cell
from offline_ner.experiment.teachers import cached_fold_teacher_view

NAMES = [("Anna", "Berg"), ("Otto", "Lind"), ("Mia", "Holm")]
GOLD = ("B-PER", "I-PER", "O", "B-LOC", "O")
NOISY = ("B-ORG", "I-ORG", "O", "B-LOC", "O")  # the LLM calls the person an organisation


def sentences(n: int, prefix: str, offset: int = 0, tags: tuple[str, ...] = GOLD, **extra: Any) -> list[Record]:
    out = []
    for i in range(n):
        first, last = NAMES[(i + offset) % len(NAMES)]
        out.append(Record(id=f"{prefix}:{i}", tokens=(first, last, "visited", "Tarrow", "."), tags=tags, **extra))
    return out


@pytest.fixture
def grid(tmp_path: Path, tiny_bert_dir: Path) -> dict[str, Any]:
    write_conll(sentences(12, "g"), tmp_path / "train.conll")
    write_conll(sentences(4, "v", 1), tmp_path / "dev.conll")
    # three LLM samples per sentence: two right, one wrong; the record's own tags are the wrong sample's
    samples = {SAMPLE_TAGS_KEY: [list(GOLD), list(NOISY), list(GOLD)]}
    write_jsonl(sentences(6, "llm", tags=NOISY, provenance=samples), tmp_path / "llm.jsonl")
    return {
        "name": "tiny-selection",
        "out_dir": str(tmp_path / "out"),
        "gold": str(tmp_path / "train.conll"),
        "distilled": {"llm": str(tmp_path / "llm.jsonl")},
        "dev": str(tmp_path / "dev.conll"),
        "test": str(tmp_path / "dev.conll"),
        "gold_sizes": [8],
        "seeds": [1],
        "step_budget": 2,
        "train": {"base_model": str(tiny_bert_dir), "batch_size": 4, "max_length": 16, "eval_every_steps": 2,
                  "logging_steps": 1, "torch_threads": 1, "learning_rate": 5e-3, "warmup_ratio": 0.0},
        "arms": [
            {"name": "gold-only", "regimen": "gold"},
            # one-phase students keep the test short; the kinds not here are the same runner path (unit-tested)
            {"name": "mask", "regimen": "union", "selection": {"kind": "token_mask", "folds": 2}},
            {"name": "cl", "regimen": "union", "selection": {"kind": "confident_learning", "folds": 2,
                                                             "action": "mask"}},
            {"name": "votes", "regimen": "union", "selection": {"kind": "k_of_n", "k": 2}},
        ],
    }


def test_every_selection_kind_trains_with_shared_fold_teachers_and_reports_per_type(grid: dict[str, Any]) -> None:
    logs: list[str] = []
    first = run_experiment(experiment_from_mapping(grid), progress=False, log=logs.append)
    assert len(first.ran) == 4
    # two fold teachers, trained once for the two arms that use them; only their probabilities stay on disk
    assert sum("teacher gold-only fold" in line for line in logs) == 2
    (cache,) = (Path(grid["out_dir"]) / "teachers").iterdir()
    assert sorted(p.name for p in cache.iterdir()) == ["fold-1.npz", "fold-2.npz"]

    rows = {r["arm"]: r for r in map(json.loads, first.results_path.read_text().splitlines())}
    for arm in ("mask", "cl", "votes"):
        report = rows[arm]["selection_report"]
        assert report["sentences"]["offered"] == 6 and report["kind"] == grid["arms"][[a["name"] for a in
                                                                                       grid["arms"]].index(arm)]["selection"]["kind"]
        on_disk = json.loads((Path(grid["out_dir"]) / "selection" / f"{rows[arm]['cell_id']}.json").read_text())
        assert on_disk == report
    assert rows["mask"]["selection_report"]["tokens"]["relabelled"] == 0  # masks keep the LLM's tags
    # k_of_n: two of three samples say PER, so both ORG tokens of every sentence become PER again
    votes = rows["votes"]["selection_report"]
    assert votes["tokens"]["relabelled"] == 12 and votes["per_type"]["ORG"]["kept_entities"] == 0
    assert votes["per_type"]["PER"]["trained_entities"] == 6
    assert "| votes | k_of_n | 8 | 1 |" in (Path(grid["out_dir"]) / "selection.md").read_text()
    assert (Path(grid["out_dir"]) / "selection.csv").read_text().count("\n") == 1 + 3

    again = run_experiment(experiment_from_mapping(grid), progress=False, log=logs.append)
    assert again.ran == () and sum("teacher gold-only fold" in line for line in logs) == 2


def test_cached_teacher_view_reads_the_grids_fold_teachers_and_never_trains(grid: dict[str, Any]) -> None:
    cfg = experiment_from_mapping(grid)
    cells = expand_grid(cfg)
    (mask,) = [c for c in cells if c.arm == "mask"]
    data = ExperimentData.load(cfg)
    gold, distilled = data.gold_subset(8, 1), list(data.distilled["llm"])
    cache = Path(grid["out_dir"]) / "teachers"
    assert cached_fold_teacher_view(teacher_cell(mask, cells), gold, distilled, 2, cache) is None  # nothing yet
    run_experiment(cfg, only=("gold-only", "mask"), progress=False)
    view = cached_fold_teacher_view(teacher_cell(mask, cells), gold, distilled, 2, cache)
    assert view is not None and len(view.probs) == 6 and view.labels[0] == "O"
    assert cached_fold_teacher_view(teacher_cell(mask, cells), gold, distilled, 3, cache) is None  # other folds
