"""The sampler: every regimen's epoch order, and a blend's realised distilled share tracking its curve."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_ner.train import SCHEDULE_KINDS
from offline_ner.train.regimens import REGIMENS, regimen_phases
from offline_ner.train.sampler import SamplingPlan, epoch_order, expected_share
from offline_ner.train.schedules import schedule_curve


def blend_plan(kind: str = "sigmoid", *, n_gold: int = 300, n_distilled: int = 200, batch_size: int = 8,
               epochs: int = 4, seed: int = 0, **params: float) -> SamplingPlan:
    epoch_size = n_gold + n_distilled
    return SamplingPlan(
        gold=range(n_gold),
        distilled=range(n_gold, n_gold + n_distilled),
        lengths=[(i * 7919) % 50 + 3 for i in range(n_gold + n_distilled)],
        batch_size=batch_size,
        seed=seed,
        epoch_size=epoch_size,
        total_batches=epochs * -(-epoch_size // batch_size),
        share=schedule_curve(kind, **params),
    )


def realised(plan: SamplingPlan, epoch: int) -> float:
    order = epoch_order(plan, epoch)
    return sum(i >= len(plan.gold) for i in order) / len(order)


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
def test_realised_share_per_epoch_tracks_the_curve(kind: str) -> None:
    plan = blend_plan(kind)
    for epoch in range(4):
        # error diffusion keeps the count within half a record of the curve's integral
        assert abs(realised(plan, epoch) - expected_share(plan, epoch)) <= 1 / plan.epoch_size


def test_realised_share_follows_the_sigmoid_down_across_epochs() -> None:
    plan = blend_plan("sigmoid", k=10.0)
    shares = [realised(plan, epoch) for epoch in range(4)]
    assert shares == sorted(shares, reverse=True)
    assert shares[0] > 0.9 and shares[-1] < 0.1


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(SCHEDULE_KINDS), batch_size=st.integers(1, 17), n_gold=st.integers(1, 60),
       n_distilled=st.integers(1, 60), seed=st.integers(0, 2**16))
def test_blend_batches_track_the_curve_for_any_sizes(kind: str, batch_size: int, n_gold: int, n_distilled: int,
                                                     seed: int) -> None:
    plan = blend_plan(kind, n_gold=n_gold, n_distilled=n_distilled, batch_size=batch_size, seed=seed, epochs=2)
    for epoch in range(2):
        order = epoch_order(plan, epoch)
        assert len(order) == plan.epoch_size
        assert abs(realised(plan, epoch) - expected_share(plan, epoch)) <= 1 / plan.epoch_size


def test_a_pool_is_drawn_without_replacement_until_it_runs_out() -> None:
    plan = blend_plan("linear", s0=0.5, s1=0.5, n_gold=100, n_distilled=100, epochs=1)
    order = epoch_order(plan, 0)
    assert len(set(order)) == len(order) == 200


def test_plain_epoch_is_one_shuffled_pass_over_every_record() -> None:
    plan = SamplingPlan(gold=range(50), distilled=range(50, 80), lengths=[5] * 80, batch_size=8, seed=3,
                        epoch_size=80, total_batches=10)
    first, second = epoch_order(plan, 0), epoch_order(plan, 1)
    assert sorted(first) == sorted(second) == list(range(80))
    assert first != second
    assert expected_share(plan, 0) == pytest.approx(30 / 80)


def test_order_depends_only_on_seed_and_epoch_so_resume_replays_it() -> None:
    assert epoch_order(blend_plan(seed=5), 2) == epoch_order(blend_plan(seed=5), 2)
    assert epoch_order(blend_plan(seed=5), 2) != epoch_order(blend_plan(seed=6), 2)


def test_length_grouping_makes_batches_of_similar_length() -> None:
    plan = blend_plan("linear", s0=0.5, s1=0.5)
    order = epoch_order(plan, 0)
    batches = [order[i : i + plan.batch_size] for i in range(0, len(order), plan.batch_size)]
    spread = sum(max(plan.lengths[i] for i in b) - min(plan.lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # lengths span 3..52; random batches of 8 would spread ~38


def test_only_the_last_batch_of_an_epoch_is_short() -> None:
    plan = SamplingPlan(gold=range(21), distilled=(), lengths=list(range(21)), batch_size=4, seed=0,
                        epoch_size=21, total_batches=6, group_batches=2)
    # the last group (5 records) sorts into one full batch and a short one: the short one must come last,
    # or the DataLoader's batches of 4 would straddle our batches
    for epoch in range(5):
        order = epoch_order(plan, epoch)
        assert plan.lengths[order[-1]] == max(plan.lengths[i] for i in order[16:])


def test_simple_mix_phases_are_distilled_then_gold() -> None:
    phases = regimen_phases("distilled_then_gold")
    assert [(p.uses_distilled, p.uses_gold) for p in phases] == [(True, False), (False, True)]


@pytest.mark.parametrize(
    ("regimen", "expected"),
    [
        ("gold", [(False, True, False)]),
        ("distilled", [(True, False, False)]),
        ("union", [(True, True, False)]),
        ("gold_then_distilled", [(False, True, False), (True, False, False)]),
        ("blend", [(True, True, True)]),
    ],
)
def test_each_regimen_has_its_phases_in_order(regimen: str, expected: list[tuple[bool, bool, bool]]) -> None:
    assert [(p.uses_distilled, p.uses_gold, p.is_blend) for p in regimen_phases(regimen)] == expected
    assert regimen in REGIMENS


def test_blend_without_both_pools_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        SamplingPlan(gold=range(5), distilled=(), lengths=[1] * 5, batch_size=2, seed=0, epoch_size=5,
                     total_batches=3, share=schedule_curve("sigmoid"))
