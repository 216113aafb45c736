"""metrics.json and phase.json are the typed contracts' JSON: read back and written again, byte for byte."""

from __future__ import annotations

import json
from typing import Any

from offline_ner.contracts import PhaseResult, TrainMetrics

# a metrics.json written by train() before the metrics were typed (a two-phase toy run, config trimmed)
EPOCH = {"epoch": 0, "gold": 24, "distilled": 0, "realised_share": 0.0, "expected_share": 0.0}
PHASE: dict[str, Any] = {
    "name": "gold", "steps": 6, "budget_steps": 6, "stopped_early": False, "best_dev_f1": 0.05714285714285715,
    "best_step": 6, "final_dir": "run/checkpoints/phase-2-gold/final",
    "last_dir": "run/checkpoints/phase-2-gold/checkpoint-6", "train_s": 0.659, "eval_s": 0.026,
    "time_split": {"forward": 0.03, "backward": 0.048, "optimizer": 0.023, "data": 0.011, "evaluation": 0.026,
                   "checkpoint": 0.13},
    "train_tokens": 566, "train_tokens_per_s": 894.2745154757005, "epochs": [EPOCH, {**EPOCH, "epoch": 1}],
}
COUNTS = {"records": 24, "features": 24, "words": 192, "windowed_records": 0, "truncated_words": 0, "unk_words": 0,
          "dropped_words": 0}
METRICS: dict[str, Any] = {
    "regimen": "distilled_then_gold", "base_model": "models/tiny-bert", "best_dev_f1": 0.05714285714285715,
    "dev_f1_all": 0.05714285714285715, "final_model": "best dev checkpoint of the last phase", "processes": 1,
    "dev_selection_records": 8, "dev_eval_mode": "default", "steps": 12, "wall_s": 0.246,
    "train_tokens_per_s": 906.1032863849765, "resumed": True,
    "phases": [{**PHASE, "name": "distilled", "best_dev_f1": 0.0, "best_step": 3}, PHASE],
    "labels": ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"],
    "data": {"gold": {**COUNTS, "iob2_repairs": 0}, "distilled": {**COUNTS, "iob2_repairs": 3},
             "dev": {**COUNTS, "records": 8}},
    "config": {"regimen": "distilled_then_gold", "epochs": 2, "phase_epochs": [], "schedule": {"kind": "sigmoid"}},
}


def test_metrics_json_reads_into_typed_fields_and_writes_back_byte_for_byte() -> None:
    text = json.dumps(METRICS, indent=2)
    metrics = TrainMetrics.from_json(json.loads(text))
    assert metrics.steps == 12 and metrics.phases[1].epochs[1].epoch == 1
    assert metrics.data["distilled"]["iob2_repairs"] == 3
    assert json.dumps(metrics.to_json(), indent=2) == text


def test_phase_json_of_a_finished_phase_reads_back_unchanged() -> None:
    phase = PhaseResult.from_json(PHASE)
    assert phase.best_step == 6 and phase.time_split["checkpoint"] == 0.13
    assert phase.to_json() == PHASE and list(phase.to_json()) == list(PHASE)


def test_a_run_without_dev_has_no_f1_anywhere() -> None:
    no_dev = {**METRICS, "best_dev_f1": None, "dev_f1_all": None,
              "phases": [{**PHASE, "best_dev_f1": None, "best_step": None}]}
    metrics = TrainMetrics.from_json(no_dev)
    assert metrics.best_dev_f1 is None and metrics.phases[0].best_dev_f1 is None
    assert metrics.to_json() == no_dev
