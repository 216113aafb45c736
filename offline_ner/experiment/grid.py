"""Expand an experiment into cells (one training run each) and name them stably. Pure: no I/O, no torch.

A cell's ``fingerprint`` hashes everything that shapes its run (recipe, gold size, seed, train keys, data
sources); a finished row with the same fingerprint means the cell is done, so an edited config reruns exactly
the cells it changed. Cells are ordered seed-major (every arm at seed 1 before any at seed 2), teachers first,
so a grid stopped early still compares every arm.

Example::

    for cell in expand_grid(cfg):
        print(cell.cell_id, cell.fingerprint)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from offline_ner.config import from_mapping
from offline_ner.errors import ConfigError
from offline_ner.experiment.config import (
    FOLD_KINDS,
    LATER_SELECTION_FIELDS,
    SELECTION_FIELDS,
    ArmConfig,
    ExperimentConfig,
    SelectionConfig,
    needs_teacher,
)
from offline_ner.train.config import TrainConfig
from offline_ner.train.regimens import regimen_phases

BUDGET_KEYS = ("max_steps", "phase_max_steps")


@dataclass(frozen=True)
class Cell:
    """One run: an arm with one value per schedule parameter, at one gold size and seed."""

    arm: str
    # the arm name plus its expanded parameters, e.g. "blend-sigmoid[k=10]"; rows are grouped by it
    label: str
    regimen: str
    schedule: Mapping[str, Any]
    distilled: str
    selection: SelectionConfig | None
    gold_size: int | str
    seed: int
    # TrainConfig keys: the experiment's shared ones overridden by the arm's
    train: Mapping[str, Any]
    fingerprint: str = field(default="", compare=False)

    @property
    def cell_id(self) -> str:
        """A readable, filesystem-safe id, unique within the grid."""
        return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", f"{self.label}@gold={self.gold_size}@seed={self.seed}")


def _axes(schedule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the schedule's list-valued parameters (one dict when there are none)."""
    keys = list(schedule)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in schedule.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _label(arm: ArmConfig, schedule: Mapping[str, Any]) -> str:
    varied = [k for k, v in arm.schedule.items() if isinstance(v, (list, tuple)) and len(v) > 1]
    if not varied:
        return arm.name
    return f"{arm.name}[{','.join(f'{k}={schedule[k]}' for k in varied)}]"


def fingerprint(payload: Mapping[str, Any]) -> str:
    """sha256 (16 hex) of a canonical JSON encoding."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand_grid(cfg: ExperimentConfig) -> list[Cell]:
    """All cells of the experiment, teachers before the arms that select with them, seed-major."""
    teachers = {arm.selection.teacher for arm in cfg.arms if arm.selection is not None and needs_teacher(arm.selection)}
    arms = sorted(cfg.arms, key=lambda arm: arm.name not in teachers)  # stable: config order otherwise
    sources = {"gold": asdict(cfg.gold), "dev": asdict(cfg.dev), "test": asdict(cfg.test)}
    cells = []
    for seed in cfg.seeds:
        for size in cfg.gold_sizes:
            for arm in arms:
                if arm.gold_sizes is not None and size not in arm.gold_sizes:
                    continue
                cells += _arm_cells(cfg, arm, size, seed, sources)
        for arm in arms:  # sizes only an arm asks for
            for size in arm.gold_sizes or ():
                if size not in cfg.gold_sizes:
                    cells += _arm_cells(cfg, arm, size, seed, sources)
    _check_teachers(cells)
    # a selection depends on its teacher's recipe too: a retrained teacher reruns the cells it judged for
    return [Cell(**{**c.__dict__, "fingerprint": fingerprint({"cell": c.fingerprint,
                                                                "teacher": teacher_cell(c, cells).fingerprint})})
            if needs_teacher(c.selection) else c for c in cells]


def cell_train_config(cell: Cell) -> TrainConfig:
    """The trainer's config for ``cell``'s run (its regimen, seed and schedule over its train keys)."""
    return from_mapping(TrainConfig, {**cell.train, "regimen": cell.regimen, "seed": cell.seed,
                                      "schedule": dict(cell.schedule)}, where=f"cell {cell.cell_id}")


def _arm_cells(
    cfg: ExperimentConfig, arm: ArmConfig, size: int | str, seed: int, sources: Mapping[str, Any]
) -> list[Cell]:
    cells = []
    train = {**cfg.train, **arm.train, **_budget(cfg, arm)}
    for schedule in _axes(arm.schedule):
        cell = Cell(arm.name, _label(arm, schedule), arm.regimen, schedule, arm.distilled, arm.selection,
                    size, seed, train)
        payload = {
            **{k: v for k, v in asdict(cell).items() if k not in ("fingerprint", "selection")},
            "selection": None if arm.selection is None else _selection_payload(arm.selection),
            "sources": {**sources, "distilled": asdict(cfg.distilled[arm.distilled])},
        }
        cells.append(Cell(**{**cell.__dict__, "fingerprint": fingerprint(payload)}))
    return cells


def _selection_payload(selection: SelectionConfig) -> dict[str, Any]:
    """The fields ``selection``'s kind reads: a field it ignores does not rerun its cells (nor does a field added
    later, at its default: :data:`~offline_ner.experiment.config.LATER_SELECTION_FIELDS`)."""
    return {name: getattr(selection, name) for name in SELECTION_FIELDS[selection.kind]
            if LATER_SELECTION_FIELDS.get(name, _ABSENT) != getattr(selection, name)}


_ABSENT = object()


def _budget(cfg: ExperimentConfig, arm: ArmConfig) -> dict[str, Any]:
    """The equal step budget as train keys: all of it for one phase, an equal share per phase otherwise."""
    if cfg.step_budget == 0 or any(key in arm.train for key in BUDGET_KEYS):
        return {}
    try:
        n_phases = len(regimen_phases(arm.regimen))
    except ValueError as err:
        raise ConfigError(f"arm {arm.name!r}: {err}") from err
    if n_phases == 1:
        return {"max_steps": cfg.step_budget, "phase_max_steps": []}
    return {"max_steps": 0, "phase_max_steps": [cfg.step_budget // n_phases] * n_phases}


def teacher_cell(cell: Cell, cells: Sequence[Cell]) -> Cell:
    """The cell whose model (agreement) or recipe (fold kinds) judges ``cell``'s distilled sentences (same gold
    size and seed)."""
    if cell.selection is None or not needs_teacher(cell.selection):
        raise ValueError(f"cell {cell.cell_id} has no selection with a teacher")
    found = [c for c in cells if c.arm == cell.selection.teacher and c.gold_size == cell.gold_size
             and c.seed == cell.seed]
    if len(found) != 1:
        raise ConfigError(
            f"cell {cell.cell_id}: expected exactly one teacher run of arm {cell.selection.teacher!r} at gold size "
            f"{cell.gold_size} and seed {cell.seed}, found {len(found)} (a teacher arm needs the same sizes and "
            "no schedule parameter lists)"
        )
    return found[0]


def _check_teachers(cells: list[Cell]) -> None:
    for cell in cells:
        if needs_teacher(cell.selection):
            teacher = teacher_cell(cell, cells)
            if cell.selection is not None and cell.selection.kind in FOLD_KINDS and any(
                phase.uses_distilled for phase in regimen_phases(teacher.regimen)
            ):
                raise ConfigError(
                    f"arm {cell.arm!r}: {cell.selection.kind} trains k-fold teachers with arm {teacher.arm!r}'s "
                    f"recipe, which must train on gold only (its regimen is {teacher.regimen!r})"
                )
