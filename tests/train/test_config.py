"""The training config: every shipped YAML loads, bad values are config errors (exit 3) that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline_ner.config import load_config, packaged_configs_dir
from offline_ner.errors import ConfigError
from offline_ner.train import REGIMENS, SCHEDULE_KINDS, TrainConfig

SHIPPED = sorted(packaged_configs_dir().glob("*.yaml"))


def test_a_config_ships_for_every_regimen_and_schedule() -> None:
    configs = [load_config(path, TrainConfig) for path in SHIPPED]
    assert {c.regimen for c in configs} == set(REGIMENS)
    assert {c.schedule.kind for c in configs if c.regimen == "blend"} == set(SCHEDULE_KINDS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_key_in_a_shipped_config_says_why(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        _, sep, value = line.partition(":")
        if sep and value.strip() and not line.lstrip().startswith("#") and value.strip() != "null":
            assert "#" in value, f"{path.name}: {line!r} has no reason comment"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["regimen=simple"], "regimen"),
        (["schedule.kind=cosine"], "cosine"),
        (["schedule.s0=1.5"], "s0"),
        (["learning_rate=fast"], "learning_rate"),
        (["regimen=gold", "phase_max_steps=[10, 10]"], "phase_max_steps"),
        (["batch_size=0"], "batch_size"),
        (["epoch=3"], "epoch"),
    ],
)
def test_bad_value_is_a_config_error_naming_the_key(overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(None, TrainConfig, overrides=overrides)


def test_yaml_exponent_without_a_dot_still_reads_as_a_float() -> None:
    assert load_config(None, TrainConfig, overrides=["learning_rate=5e-5"]).learning_rate == 5e-5


def test_overrides_reach_nested_schedule_keys() -> None:
    cfg = load_config("blend_sigmoid", TrainConfig, overrides=["schedule.k=4", "max_steps=100"])
    assert cfg.schedule.params() == {"s_max": 1.0, "k": 4.0, "p0": 0.5}
    assert cfg.phase_steps(0) == 100


def test_phase_budgets_apply_in_phase_order() -> None:
    cfg = load_config(None, TrainConfig, overrides=["regimen=distilled_then_gold", "phase_max_steps=[30, 70]"])
    assert [cfg.phase_steps(i) for i in range(2)] == [30, 70]
