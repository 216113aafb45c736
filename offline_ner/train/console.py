"""What training shows on the console: one line per dev evaluation, plain progress lines off a terminal, and
the optional TensorBoard report.

``train_log.jsonl`` keeps every number; the console gets what a person watching needs: after each evaluation
``[phase 1/2 distilled] step 120/400  epoch 1.00  loss 0.4321  dev F1 0.7012  best 0.7012 (step 120)``. On a
terminal HF's tqdm bar runs too (lines are written through ``tqdm.write`` so the bar stays intact); when stderr is
not a terminal (a log file, CI, ``nohup``) the bar is off, since its carriage returns and cursor-up codes (``[A``)
turn into garbage there, and a plain line per logging step stands in for it.

Example::

    trainer.add_callback(ConsoleProgress("distilled", index=0, phases=2, plain_progress=not show_bars(True)))
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from offline_ner.train.config import REPORT_TARGETS


def _write(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)  # above a running bar, never through it


def show_bars(progress: bool) -> bool:
    """HF's tqdm bars only on a terminal: in a file they leave ``\\r`` and ``[A`` fragments."""
    return progress and sys.stderr.isatty()


def report_arguments(target: str, phase_dir: Path) -> dict[str, Any]:
    """``TrainingArguments`` keywords for ``report_to``: events under ``<out>/tensorboard/<phase>``."""
    needed = REPORT_TARGETS[target]
    if needed is None:
        return {"report_to": []}
    return {"report_to": [needed[0]], "logging_dir": str(phase_dir.parent.parent / target / phase_dir.name)}


def _number(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


class ConsoleProgress(TrainerCallback):
    """One line per dev evaluation (step, epoch, loss, dev F1, best so far); optionally one per logging step."""

    def __init__(self, phase: str, index: int, phases: int, plain_progress: bool = False,
                 write: Callable[[str], None] = _write) -> None:
        self.prefix = f"[phase {index + 1}/{phases} {phase}]"
        self.plain_progress, self.write = plain_progress, write
        self.loss: float | None = None
        self.best: float | None = None
        self.best_step: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.best_metric is not None:  # resumed: the best so far is the restored checkpoint's
            self.best, self.best_step = state.best_metric, state.best_global_step

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs:
            return
        self.loss = logs["loss"]
        if self.plain_progress:
            self.write(f"{self.prefix} step {state.global_step}/{state.max_steps}  epoch {_number(state.epoch, '.2f')}"
                       f"  loss {self.loss:.4f}  lr {_number(logs.get('learning_rate'), '.2e')}")

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                    **kwargs: Any) -> None:
        f1 = (metrics or {}).get("eval_f1")
        if f1 is None:
            return
        if self.best is None or f1 > self.best:
            self.best, self.best_step = f1, state.global_step
        self.write(f"{self.prefix} step {state.global_step}/{state.max_steps}  epoch {_number(state.epoch, '.2f')}"
                   f"  loss {_number(self.loss, '.4f')}  dev F1 {f1:.4f}  best {self.best:.4f} (step {self.best_step})")
