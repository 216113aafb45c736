"""The run's event log (``train_log.jsonl``) and the share counter: what each epoch's batches really held.

The log is append-only and flushed per event, so a killed run keeps its history; only rank 0 writes. The counter
counts the gold and distilled records (and non-pad tokens) the model computed a loss on, per epoch; it is saved
beside each checkpoint (``SHARE_FILE``) and restored on resume. Not here: the Trainer, callbacks, the run folder.

Example::

    counter = ShareCounter()
    counter.add(epoch=0, distilled=5, gold=3, tokens=120)
    epoch_share(plan, 0, counter.summed().epochs[0]).realised_share   # -> 0.625
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.contracts import EpochShare
from offline_ner.train import distributed
from offline_ner.train.sampler import SamplingPlan, expected_share

SHARE_FILE = "share_counts.json"  # per checkpoint: the realised-share counts so far, restored on resume


class RunLog:
    """Append-only training log; each event is flushed at once so a killed run keeps its history. Rank 0 writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: dict[str, Any]) -> None:
        if not distributed.is_main():
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True) + "\n")


class ShareCounter:
    """Gold and distilled records (and non-pad tokens) the model computed a loss on, per epoch, in this process."""

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, int]] = {}
        self.tokens_this_run = 0

    def add(self, epoch: int, distilled: int, gold: int, tokens: int) -> None:
        counts = self.epochs.setdefault(epoch, {"gold": 0, "distilled": 0})
        counts["gold"] += gold
        counts["distilled"] += distilled
        self.tokens_this_run += tokens

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps({str(e): c for e, c in self.epochs.items()}))

    def load(self, path: Path) -> None:
        """Restore the counts saved with a checkpoint: the sum over all ranks, so rank 0 takes them, others zeros."""
        saved = {int(e): c for e, c in json.loads(path.read_text(encoding="utf-8")).items()}
        keep = distributed.is_main()
        self.epochs = {e: {k: n if keep else 0 for k, n in c.items()} for e, c in saved.items()}

    def summed(self) -> ShareCounter:
        """The counts of every rank together (this process's own outside torchrun). Every rank must call it."""
        epochs = sorted(self.epochs)
        flat = [n for e in epochs for n in (self.epochs[e]["gold"], self.epochs[e]["distilled"])]
        *totals, tokens = distributed.sum_over_ranks([*flat, self.tokens_this_run])
        out = ShareCounter()
        out.epochs = {e: {"gold": totals[2 * i], "distilled": totals[2 * i + 1]} for i, e in enumerate(epochs)}
        out.tokens_this_run = tokens
        return out


def epoch_share(plan: SamplingPlan, epoch: int, counts: dict[str, int]) -> EpochShare:
    """One epoch's realised distilled share next to the plan's expected share for the records seen."""
    seen = counts["gold"] + counts["distilled"]
    return EpochShare(
        epoch=epoch,
        gold=counts["gold"],
        distilled=counts["distilled"],
        realised_share=counts["distilled"] / seen if seen else 0.0,
        expected_share=expected_share(plan, epoch, seen),
    )
