"""Which training records each epoch sees, in which order: the sampler behind every regimen. Pure, no torch.

A :class:`SamplingPlan` covers one phase. Its dataset indices are split into a gold pool and a distilled pool.
Without a schedule, an epoch is one shuffled pass over both pools together (a single-pool phase is simply a
shuffled pass). With a schedule (the ``blend`` regimen), each slot of the epoch takes a distilled record with the
probability-free rule of error diffusion: the running count of distilled records never differs from the running
integral of the curve by more than half a record, so the realised share of every epoch tracks the curve.
Within a pool, records are drawn without replacement, reshuffled when the pool runs out.

The order is then cut into groups of ``group_batches`` batches, each group is sorted by length and cut into
batches, and the batches of a group are shuffled. With ``group_batches`` > 1 this groups batches by length for
dynamic padding (the trainer asks for ``length_group_batches`` only with ``pack_tokens: 0``); with 1, what the
default ``pack_tokens: 64`` sets, each batch is a random draw, sorted only within itself, and packing removes the
padding instead. A group never crosses an epoch boundary, so grouping does not change an epoch's share. Everything depends only on
``(seed, epoch)``, so a resumed run replays exactly the order the killed run would have used.

Example::

    plan = SamplingPlan(gold=range(0, 80), distilled=range(80, 100), lengths=[12] * 100, batch_size=8,
                        seed=1, epoch_size=100, total_batches=39, share=schedule_curve("sigmoid"))
    order = epoch_order(plan, epoch=0)     # 100 dataset indices, about 60% distilled in epoch 0
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingPlan:
    """One phase's sampling: pools of dataset indices, sizes, and an optional distilled-share curve."""

    gold: Sequence[int]
    distilled: Sequence[int]
    lengths: Sequence[int]  # per dataset index, for length grouping
    batch_size: int
    seed: int
    epoch_size: int  # records per epoch
    total_batches: int  # batches in the whole phase: progress p = batch / (total_batches - 1)
    share: Callable[[float], float] | None = None  # None: one shuffled pass over both pools
    group_batches: int = 16

    def __post_init__(self) -> None:
        if not self.gold and not self.distilled:
            raise ValueError("a sampling plan needs at least one non-empty pool")
        if self.share is not None and (not self.gold or not self.distilled):
            raise ValueError("a blend needs both a gold and a distilled pool")
        if self.share is None and self.epoch_size != len(self.gold) + len(self.distilled):
            raise ValueError("without a schedule an epoch is exactly one pass over the pools")

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.epoch_size / self.batch_size)

    def progress(self, epoch: int, slot: int) -> float:
        """Training progress in [0, 1] of the batch holding ``slot`` of ``epoch``."""
        batch = epoch * self.batches_per_epoch + slot // self.batch_size
        return min(1.0, batch / max(1, self.total_batches - 1))


def _rng(plan: SamplingPlan, epoch: int, purpose: str) -> random.Random:
    # string seeds hash with SHA-512, so the stream is the same on every platform and Python run
    return random.Random(f"{plan.seed}:{epoch}:{purpose}")


def _draws(pool: Sequence[int], rng: random.Random) -> Iterator[int]:
    """Endless draws without replacement: a shuffled pass over ``pool``, then another, ..."""
    while True:
        order = list(pool)
        rng.shuffle(order)
        yield from order


def is_distilled_slots(plan: SamplingPlan, epoch: int, n_slots: int | None = None) -> list[bool]:
    """Per slot of ``epoch`` (before length grouping): does it hold a distilled record? Needs a schedule."""
    if plan.share is None:
        raise ValueError("only a blend plan decides per slot")
    slots = plan.epoch_size if n_slots is None else min(n_slots, plan.epoch_size)
    wanted = 0.0
    taken = 0
    out = []
    for slot in range(slots):
        wanted += plan.share(plan.progress(epoch, slot))
        take = wanted - taken >= 0.5  # error diffusion: |wanted - taken| <= 0.5 after every slot
        taken += take
        out.append(take)
    return out


def expected_share(plan: SamplingPlan, epoch: int, n_slots: int | None = None) -> float:
    """The share of distilled records the plan aims for in the first ``n_slots`` of ``epoch`` (all by default)."""
    if plan.share is None:
        return len(plan.distilled) / (len(plan.gold) + len(plan.distilled))
    slots = plan.epoch_size if n_slots is None else min(n_slots, plan.epoch_size)
    if slots == 0:
        return 0.0
    return sum(plan.share(plan.progress(epoch, slot)) for slot in range(slots)) / slots


def _group_by_length(order: list[int], plan: SamplingPlan, rng: random.Random) -> list[int]:
    group = plan.batch_size * plan.group_batches
    out: list[int] = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: plan.lengths[i])
        batches = [chunk[i : i + plan.batch_size] for i in range(0, len(chunk), plan.batch_size)]
        # only the epoch's last batch can be short; it stays last so the DataLoader's batches line up with ours
        full, short = batches[: len(chunk) // plan.batch_size], batches[len(chunk) // plan.batch_size :]
        rng.shuffle(full)
        out.extend(i for batch in (*full, *short) for i in batch)
    return out


def epoch_order(plan: SamplingPlan, epoch: int) -> list[int]:
    """The dataset indices of ``epoch`` in training order (length-grouped); deterministic in (seed, epoch)."""
    if plan.share is None:
        order = [*plan.gold, *plan.distilled]
        _rng(plan, epoch, "shuffle").shuffle(order)
    else:
        gold = _draws(plan.gold, _rng(plan, epoch, "gold"))
        distilled = _draws(plan.distilled, _rng(plan, epoch, "distilled"))
        order = [next(distilled) if take else next(gold) for take in is_distilled_slots(plan, epoch)]
    return _group_by_length(order, plan, _rng(plan, epoch, "group"))
