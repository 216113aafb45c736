"""The Trainer callbacks of a phase: the event log and realised shares, where the wall time goes, a quiet bar.

Not here: the console lines (``console.py``), the Trainer itself (``hf_adapters.py``).

Example::

    trainer.add_callback(PhaseLog(log, "blend", sampler, counter))
    trainer.add_callback(TimeSplit())
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
import torch
from transformers import ProgressCallback, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from offline_ner.train import distributed
from offline_ner.train.hf_adapters import PlanSampler
from offline_ner.train.run_log import SHARE_FILE, RunLog, ShareCounter, epoch_share


class TimeSplit(TrainerCallback):
    """Where a phase's wall time goes, from the model's forward hooks, the optimizer's step hooks and Trainer events.

    forward: the training forward pass (loss included); backward: from its end to the optimizer step (gradient
    clipping included); optimizer: the step, the scheduler and zeroing the gradients; data: from the end of one step
    to the next forward pass (batch sampling, collation); evaluation: dev prediction and scoring; checkpoint: saving.
    """

    PARTS = ("forward", "backward", "optimizer", "data", "evaluation", "checkpoint")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.PARTS, 0.0)
        self._mark = time.perf_counter()
        self._training_forward = False
        self._handles: list[Any] = []

    def _add(self, part: str) -> None:
        now = time.perf_counter()
        self.seconds[part] += now - self._mark
        self._mark = now

    def _forward_start(self, module: torch.nn.Module, args: Any) -> None:
        self._training_forward = module.training
        if module.training:
            self._add("data")

    def _forward_end(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if self._training_forward:
            self._add("forward")

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
        self._handles = [model.register_forward_pre_hook(self._forward_start),
                         model.register_forward_hook(self._forward_end),
                         inner.register_step_pre_hook(lambda *_: self._add("backward"))]
        self._mark = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("optimizer")

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("evaluation")

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("checkpoint")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        for handle in self._handles:
            handle.remove()

    def to_json(self) -> dict[str, float]:
        return {part: round(seconds, 3) for part, seconds in self.seconds.items()}


class QuietProgress(ProgressCallback):
    """HF's progress bar without the dict it writes under the bar at every log step."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        return


class PhaseLog(TrainerCallback):
    """Writes the Trainer's logs and the per-epoch realised share; forces a final evaluation and checkpoint."""

    def __init__(self, log: RunLog, phase: str, sampler: PlanSampler, counter: ShareCounter) -> None:
        self.log, self.phase, self.sampler, self.counter = log, phase, sampler, counter
        self.logged_epochs: set[int] = set()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        self.log.write({"event": "log", "phase": self.phase, "step": state.global_step, "epoch": state.epoch, **logs})

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # a step budget can end between step-interval evaluations: evaluate and checkpoint the last step too
        # (with per-epoch evaluation the Trainer already ends the cut-short epoch with one)
        is_between = args.eval_strategy == "steps" and state.global_step % args.eval_steps
        if state.global_step >= state.max_steps and is_between:
            control.should_evaluate = True
            control.should_save = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log_share(self.sampler.epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log_share(self.sampler.epoch)  # a phase stopped early or by step budget ends mid-epoch

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        counts = self.counter.summed()
        if distributed.is_main() and checkpoint.is_dir():
            counts.save(checkpoint / SHARE_FILE)

    def log_share(self, epoch: int) -> None:
        counts = self.counter.summed().epochs.get(epoch)
        if counts is None or epoch in self.logged_epochs:
            return
        self.logged_epochs.add(epoch)
        share = epoch_share(self.sampler.plan, epoch, counts)
        self.log.write({"event": "share", "phase": self.phase, **share.to_json()})
