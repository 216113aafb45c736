"""What a training run hands back: the metrics of the whole run and of each phase (``metrics.json``, ``phase.json``).

``train()`` returns them in its ``TrainResult``; ``metrics.json`` is :meth:`TrainMetrics.to_json`, and each phase's
``phase.json`` (written when the phase completes, read back when a rerun skips it) is :meth:`PhaseResult.to_json`.
The CLI, the experiment runner and the model card read the fields; ``train --json`` prints the JSON.

Example::

    metrics = train(cfg, gold=gold, distilled=distilled, dev=dev, out_dir=out).metrics
    metrics.best_dev_f1, metrics.steps, [phase.stopped_early for phase in metrics.phases]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EpochShare:
    """One epoch's realised distilled share (from the batches the model computed a loss on) beside the plan's."""

    epoch: int
    gold: int
    distilled: int
    realised_share: float
    expected_share: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EpochShare:
        return cls(
            epoch=int(data["epoch"]),
            gold=int(data["gold"]),
            distilled=int(data["distilled"]),
            realised_share=float(data["realised_share"]),
            expected_share=float(data["expected_share"]),
        )


@dataclass(frozen=True)
class PhaseResult:
    """One phase of a regimen: its budget and steps, best dev F1, where its models are, time and throughput."""

    name: str
    steps: int
    budget_steps: int
    stopped_early: bool
    best_dev_f1: float | None  # None: trained without a dev set
    best_step: int | None
    final_dir: str  # the phase's kept model: its best dev checkpoint, else its last model
    last_dir: str  # its last checkpoint
    train_s: float
    eval_s: float
    time_split: Mapping[str, float]  # seconds per part: forward, backward, optimizer, data, evaluation, checkpoint
    train_tokens: int  # non-pad tokens trained on by this process run (a resumed phase counts from the resume)
    train_tokens_per_s: float
    epochs: tuple[EpochShare, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "budget_steps": self.budget_steps,
            "stopped_early": self.stopped_early,
            "best_dev_f1": self.best_dev_f1,
            "best_step": self.best_step,
            "final_dir": self.final_dir,
            "last_dir": self.last_dir,
            "train_s": self.train_s,
            "eval_s": self.eval_s,
            "time_split": dict(self.time_split),
            "train_tokens": self.train_tokens,
            "train_tokens_per_s": self.train_tokens_per_s,
            "epochs": [epoch.to_json() for epoch in self.epochs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhaseResult:
        return cls(
            name=str(data["name"]),
            steps=int(data["steps"]),
            budget_steps=int(data["budget_steps"]),
            stopped_early=bool(data["stopped_early"]),
            best_dev_f1=data["best_dev_f1"],
            best_step=data["best_step"],
            final_dir=str(data["final_dir"]),
            last_dir=str(data["last_dir"]),
            train_s=data["train_s"],
            eval_s=data["eval_s"],
            time_split=dict(data["time_split"]),
            train_tokens=int(data["train_tokens"]),
            train_tokens_per_s=data["train_tokens_per_s"],
            epochs=tuple(EpochShare.from_json(epoch) for epoch in data["epochs"]),
        )


@dataclass(frozen=True)
class TrainMetrics:
    """A whole training run: dev F1, steps, time and throughput, its phases, labels, data counts and config."""

    regimen: str
    base_model: str
    best_dev_f1: float | None  # the last phase's best, on the selection records (all dev unless dev_subset)
    dev_f1_all: float | None  # the final model on every dev record; None without dev
    final_model: str  # what model/ holds, in words
    processes: int
    dev_selection_records: int
    dev_eval_mode: str
    steps: int
    wall_s: float
    train_tokens_per_s: float | None
    resumed: bool
    phases: tuple[PhaseResult, ...]
    labels: tuple[str, ...]
    # per pool (gold, distilled, dev): records, features, words, windowed/truncated/unk/dropped words, iob2_repairs
    data: Mapping[str, Mapping[str, int]]
    config: Mapping[str, Any]  # the training config as JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "regimen": self.regimen,
            "base_model": self.base_model,
            "best_dev_f1": self.best_dev_f1,
            "dev_f1_all": self.dev_f1_all,
            "final_model": self.final_model,
            "processes": self.processes,
            "dev_selection_records": self.dev_selection_records,
            "dev_eval_mode": self.dev_eval_mode,
            "steps": self.steps,
            "wall_s": self.wall_s,
            "train_tokens_per_s": self.train_tokens_per_s,
            "resumed": self.resumed,
            "phases": [phase.to_json() for phase in self.phases],
            "labels": list(self.labels),
            "data": {pool: dict(counts) for pool, counts in self.data.items()},
            "config": dict(self.config),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainMetrics:
        return cls(
            regimen=str(data["regimen"]),
            base_model=str(data["base_model"]),
            best_dev_f1=data["best_dev_f1"],
            dev_f1_all=data["dev_f1_all"],
            final_model=str(data["final_model"]),
            processes=int(data["processes"]),
            dev_selection_records=int(data["dev_selection_records"]),
            dev_eval_mode=str(data["dev_eval_mode"]),
            steps=int(data["steps"]),
            wall_s=data["wall_s"],
            train_tokens_per_s=data["train_tokens_per_s"],
            resumed=bool(data["resumed"]),
            phases=tuple(PhaseResult.from_json(phase) for phase in data["phases"]),
            labels=tuple(data["labels"]),
            data={pool: dict(counts) for pool, counts in data["data"].items()},
            config=dict(data["config"]),
        )
