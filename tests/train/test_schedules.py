"""Blend schedules: shares stay in [0, 1], hit their endpoints, and move in the direction their parameters say."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.train import SCHEDULE_KINDS, blend_share
from offline_ner.train.schedules import SCHEDULE_FORMULAS, SCHEDULE_PARAMS, schedule_curve

progress = st.floats(min_value=0.0, max_value=1.0)
share = st.floats(min_value=0.0, max_value=1.0)
PARAMS = {
    "sigmoid": st.fixed_dictionaries({"s_max": share, "k": st.floats(-60, 60), "p0": st.floats(-0.5, 1.5)}),
    "power": st.fixed_dictionaries({"s0": share, "alpha": st.floats(0, 8), "tau": st.floats(0, 5)}),
    "linear": st.fixed_dictionaries({"s0": share, "s1": share}),
    "exponential": st.fixed_dictionaries({"s0": share, "rate": st.floats(-20, 20)}),
    "step": st.fixed_dictionaries({"s0": share, "s1": share, "p0": st.floats(-0.5, 1.5)}),
}
DECREASING = {  # parameter sets under which a kind must never increase
    "sigmoid": st.fixed_dictionaries({"s_max": share, "k": st.floats(0, 60), "p0": st.floats(-0.5, 1.5)}),
    "power": PARAMS["power"],
    "linear": st.fixed_dictionaries({"s0": st.just(1.0), "s1": share}),
    "exponential": st.fixed_dictionaries({"s0": share, "rate": st.floats(0, 20)}),
    "step": st.fixed_dictionaries({"s0": st.just(1.0), "s1": share, "p0": st.floats(0, 1)}),
}


def test_every_kind_has_defaults_and_a_documented_formula() -> None:
    assert set(SCHEDULE_KINDS) == set(SCHEDULE_FORMULAS) == set(SCHEDULE_PARAMS)
    assert set(SCHEDULE_KINDS) >= {"sigmoid", "power", "linear", "exponential", "step"}


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
@given(data=st.data(), p=st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10))
def test_share_always_lies_in_unit_interval(kind: str, data: st.DataObject, p: float) -> None:
    params = data.draw(PARAMS[kind])
    value = blend_share(kind, p, **params)
    assert 0.0 <= value <= 1.0 and math.isfinite(value)


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
@given(data=st.data(), a=progress, b=progress)
def test_decaying_parameters_give_a_monotone_non_increasing_share(
    kind: str, data: st.DataObject, a: float, b: float
) -> None:
    params = data.draw(DECREASING[kind])
    lo, hi = sorted((a, b))
    assert blend_share(kind, lo, **params) >= blend_share(kind, hi, **params) - 1e-12


@pytest.mark.parametrize(
    ("kind", "params", "start", "end"),
    [
        ("power", {}, 1.0, 0.0),
        ("power", {"s0": 0.8, "alpha": 3.0}, 0.8, 0.0),
        ("power", {"tau": 0.1, "alpha": 1.0}, 1.0, 1.0 / 11.0),
        ("linear", {"s0": 0.9, "s1": 0.2}, 0.9, 0.2),
        ("exponential", {"rate": 5.0}, 1.0, math.exp(-5.0)),
        ("step", {"s0": 1.0, "s1": 0.25, "p0": 0.5}, 1.0, 0.25),
    ],
)
def test_schedules_hit_their_endpoints(kind: str, params: dict[str, float], start: float, end: float) -> None:
    assert blend_share(kind, 0.0, **params) == pytest.approx(start)
    assert blend_share(kind, 1.0, **params) == pytest.approx(end)


@given(s_max=share, k=st.floats(0.1, 50), p0=progress)
def test_sigmoid_is_half_of_s_max_at_its_midpoint(s_max: float, k: float, p0: float) -> None:
    assert blend_share("sigmoid", p0, s_max=s_max, k=k, p0=p0) == pytest.approx(s_max / 2)


def test_sigmoid_with_negative_k_rises_instead() -> None:
    assert blend_share("sigmoid", 0.0, k=-10) < blend_share("sigmoid", 1.0, k=-10)


def test_step_switches_exactly_at_p0() -> None:
    assert blend_share("step", 0.2999, p0=0.3) == 1.0
    assert blend_share("step", 0.3, p0=0.3) == 0.0


def test_progress_outside_the_unit_interval_is_clamped() -> None:
    assert blend_share("linear", -3.0) == 1.0
    assert blend_share("linear", 7.0) == 0.0


@pytest.mark.parametrize(
    ("kind", "params"),
    [("sigmoid", {"alpha": 1.0}), ("power", {"s0": 1.5}), ("linear", {"s1": -0.1}), ("power", {"alpha": -1.0}),
     ("nope", {}), ("step", {"p0": float("nan")})],
)
def test_unknown_kind_or_bad_parameter_is_rejected(kind: str, params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        blend_share(kind, 0.5, **params)


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
@given(p=progress)
def test_bound_curve_equals_blend_share(kind: str, p: float) -> None:
    assert schedule_curve(kind)(p) == blend_share(kind, p)
