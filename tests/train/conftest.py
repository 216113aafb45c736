"""Toy records for training tests: short sentences we wrote ourselves, with gold and LLM-style noisy tags."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from offline_ner.config import load_config
from offline_ner.data import Record, write_jsonl
from offline_ner.train import TrainConfig

NAMES = ["Anna Berg", "Tom Ruiz", "Mia Okafor", "Lars Holm", "Ines Duarte", "Omar Haddad"]
PLACES = ["Oslo", "Lisbon", "Nairobi", "Quito", "Hanoi", "Perth"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella"]


def toy_records(n: int, prefix: str, seed: int, noisy: bool = False) -> list[Record]:
    """``n`` sentences "<PER> met <ORG> staff in <LOC> ."; noisy ones tag the organisation as MISC."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        first, last = rng.choice(NAMES).split()
        tokens = (first, last, "met", rng.choice(ORGS), "staff", "in", rng.choice(PLACES), ".")
        org = "B-MISC" if noisy else "B-ORG"
        tags = ("B-PER", "I-PER", "O", org, "O", "O", "B-LOC", "O")
        records.append(Record(id=f"{prefix}{i}", tokens=tokens, tags=tags, source=prefix))
    return records


@pytest.fixture(scope="session")
def toy_data() -> dict[str, list[Record]]:
    return {
        "gold": toy_records(24, "g", seed=1),
        "distilled": toy_records(24, "d", seed=2, noisy=True),
        "dev": toy_records(8, "v", seed=3),
    }


@pytest.fixture(scope="session")
def toy_files(toy_data: dict[str, list[Record]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("toy-data")
    paths = {}
    for role, records in toy_data.items():
        paths[role] = folder / f"{role}.jsonl"
        write_jsonl(records, paths[role])
    return paths


def tiny_config(model_dir: Path, **settings: Any) -> TrainConfig:
    """A config for the tiny BERT: small batches and logs, overridden by ``settings`` (dotted keys allowed)."""
    # one torch thread: the test machine's cores are shared, and oversubscribed threads run slower, not faster
    base = {"base_model": str(model_dir), "batch_size": 8, "epochs": 2, "logging_steps": 2, "max_length": 24,
            "torch_threads": 1}
    overrides = [f"{key}={value}" for key, value in {**base, **settings}.items()]
    return load_config(None, TrainConfig, overrides=overrides)
