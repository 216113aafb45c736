"""Experiment data: the gold pool excludes distilled sentences; gold subsets are nested and seeded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_ner.data import Record, write_conll
from offline_ner.errors import ConfigError, DataError
from offline_ner.experiment import ExperimentData, experiment_from_mapping, read_noisebench


def write_noisebench(path: Path, indices: list[int]) -> None:
    rows = [{"conll_train_sentence_index": i, "tokens": ["Anna", "Berg"], "gold_conll2003": ["B-PER", "I-PER"],
             "noise_llm": ["I-ORG", "I-ORG"]} for i in indices]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_noisebench_rows_become_records_with_conll_ids_and_repaired_labels(tmp_path: Path) -> None:
    write_noisebench(tmp_path / "nb.jsonl", [3, 7])
    records = read_noisebench(tmp_path / "nb.jsonl", "noise_llm", "train")
    assert [r.id for r in records] == ["train:3", "train:7"]
    assert records[0].tags == ("B-ORG", "I-ORG")
    assert read_noisebench(tmp_path / "nb.jsonl", "gold_conll2003", "train")[0].tags == ("B-PER", "I-PER")


def test_noisebench_row_without_the_label_column_names_the_line(tmp_path: Path) -> None:
    write_noisebench(tmp_path / "nb.jsonl", [3])
    with pytest.raises(DataError, match=r"nb.jsonl:1: .*noise_expert"):
        read_noisebench(tmp_path / "nb.jsonl", "noise_expert", "train")


def make_data(tmp_path: Path) -> ExperimentData:
    gold = [Record(id=f"x:{i}", tokens=("w",), tags=("O",)) for i in range(10)]
    write_conll(gold, tmp_path / "train.conll")
    write_noisebench(tmp_path / "nb.jsonl", [1, 4])
    cfg = experiment_from_mapping({
        "name": "t", "gold": str(tmp_path / "train.conll"),
        "distilled": {"llm": {"path": str(tmp_path / "nb.jsonl"), "format": "noisebench"}},
        "dev": {"path": str(tmp_path / "train.conll"), "limit": 3}, "test": str(tmp_path / "train.conll"),
        "arms": [{"name": "a", "regimen": "gold"}],
    })
    return ExperimentData.load(cfg)


def test_gold_pool_excludes_every_distilled_sentence(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    assert {r.id for r in data.gold_pool} == {f"train:{i}" for i in range(10)} - {"train:1", "train:4"}
    assert len(data.dev) == 3


def test_gold_subsets_are_nested_within_a_seed_and_differ_across_seeds(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    small, large = data.gold_subset(3, seed=1), data.gold_subset(6, seed=1)
    assert large[:3] == small
    assert data.gold_subset(3, seed=1) == small
    assert [r.id for r in data.gold_subset("all", seed=2)] != [r.id for r in data.gold_subset("all", seed=1)]
    with pytest.raises(ConfigError, match="exceeds the 8 gold records"):
        data.gold_subset(9, seed=1)
