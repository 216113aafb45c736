"""Review arms in a tiny real grid: the gold-only model ranks, the top K get the reviewer source's labels, the
ranking is kept next to the results, the teacher's probabilities are computed once per seed, and the random
control needs no teacher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offline_ner.data import Record, write_conll, write_jsonl
from offline_ner.errors import ConfigError
from offline_ner.experiment import expand_grid, experiment_from_mapping, run_experiment
from offline_ner.experiment.config import needs_teacher

GOLD = ("B-PER", "I-PER", "O", "B-LOC", "O")
NOISY = ("B-ORG", "I-ORG", "O", "B-LOC", "O")  # the LLM calls the person an organisation


def sentences(n: int, prefix: str, tags: tuple[str, ...] = GOLD) -> list[Record]:
    return [Record(id=f"{prefix}:{i}", tokens=(f"Anna{i}", "Berg", "visited", "Tarrow", "."), tags=tags)
            for i in range(n)]


def review_arm(name: str, ranking: str, reviewed: int, into: str = "distilled") -> dict[str, Any]:
    return {"name": name, "regimen": "union", "selection": {"kind": "review", "ranking": ranking, "reviewed": reviewed,
                                                            "reviewer": "gold_labels", "review_into": into}}


@pytest.fixture
def grid(tmp_path: Path, tiny_bert_dir: Path) -> dict[str, Any]:
    write_conll(sentences(12, "g"), tmp_path / "train.conll")
    write_conll(sentences(4, "v"), tmp_path / "dev.conll")
    write_jsonl(sentences(6, "llm", NOISY), tmp_path / "llm.jsonl")
    write_jsonl(sentences(6, "llm"), tmp_path / "gold_labels.jsonl")  # the same sentences, as a reviewer fixes them
    return {
        "name": "tiny-review", "out_dir": str(tmp_path / "out"), "gold": str(tmp_path / "train.conll"),
        "distilled": {"llm": str(tmp_path / "llm.jsonl"), "gold_labels": str(tmp_path / "gold_labels.jsonl")},
        "dev": str(tmp_path / "dev.conll"), "test": str(tmp_path / "dev.conll"),
        "gold_sizes": [8], "seeds": [1], "step_budget": 2,
        "train": {"base_model": str(tiny_bert_dir), "batch_size": 4, "max_length": 16, "eval_every_steps": 2,
                  "logging_steps": 1, "torch_threads": 1, "learning_rate": 5e-3, "warmup_ratio": 0.0},
        "arms": [{"name": "gold-only", "regimen": "gold"}, review_arm("ranked-2", "entity-errors", 2),
                 review_arm("ranked-4", "entity-errors", 4), review_arm("random-2", "random", 2),
                 review_arm("ranked-2-gold", "entity-errors", 2, into="gold")],
    }


def test_review_arms_train_on_the_top_k_corrected_and_keep_their_ranking(grid: dict[str, Any]) -> None:
    outcome = run_experiment(experiment_from_mapping(grid), progress=False)
    assert len(outcome.ran) == 5
    out = Path(grid["out_dir"])
    rows = {r["arm"]: r for r in map(json.loads, outcome.results_path.read_text().splitlines())}
    for arm, k in (("ranked-2", 2), ("ranked-4", 4), ("random-2", 2)):
        report = rows[arm]["selection_report"]
        assert report["kind"] == "review" and report["sentences"] == {"offered": 6, "kept": 6}
        # each reviewed sentence has its two ORG tokens turned into PER
        assert report["tokens"]["relabelled"] == 2 * k
        ranking = [json.loads(line) for line in (out / "review" / f"{rows[arm]['cell_id']}.jsonl").open()]
        assert sorted(r["record_id"] for r in ranking) == [f"llm:{i}" for i in range(6)]
    # into gold: the two reviewed sentences leave the distilled phase and join the 8 gold ones
    assert (rows["ranked-2-gold"]["n_gold"], rows["ranked-2-gold"]["n_distilled"]) == (10, 4)
    assert (rows["ranked-2"]["n_gold"], rows["ranked-2"]["n_distilled"]) == (8, 6)
    # the teacher model was kept and read once for both ranked arms; the random arm needs neither
    assert rows["gold-only"]["model_dir"] is not None
    assert len(list((out / "teachers").glob("*-model-*.npz"))) == 1
    random_ranking = [json.loads(line) for line in (out / "review" / f"{rows['random-2']['cell_id']}.jsonl").open()]
    assert {r["reason"] for r in random_ranking} == {"random"}
    # the report: one line per K, ranked against random at K = 2, and the plot of F1 against K
    table = (out / "review.md").read_text()
    assert sorted(tuple(line.split(" | ")[:2]) for line in table.splitlines()[2:]) == [
        ("| 2", "entity-errors"), ("| 2", "entity-errors into gold"), ("| 4", "entity-errors")]
    assert out / "f1_vs_reviewed.png" in outcome.plot_paths
    assert run_experiment(experiment_from_mapping(grid), progress=False).ran == ()  # resumable: nothing reruns


def test_only_a_ranked_review_waits_for_its_teacher(grid: dict[str, Any]) -> None:
    cells = {c.arm: c for c in expand_grid(experiment_from_mapping(grid))}
    assert needs_teacher(cells["ranked-2"].selection) and not needs_teacher(cells["random-2"].selection)


@pytest.mark.parametrize(("selection", "message"), [
    ({"ranking": "loudest"}, "ranking: expected one of uncertainty, entity-errors"),
    ({"reviewed": 0}, "reviewed: at least 1 sentence"),
    ({"reviewer": "nobody"}, "reviewer: 'nobody' is not a distilled source"),
])
def test_a_bad_review_arm_is_a_config_error(grid: dict[str, Any], selection: dict[str, Any], message: str) -> None:
    grid["arms"][1]["selection"].update(selection)
    with pytest.raises(ConfigError, match=message):
        experiment_from_mapping(grid)
