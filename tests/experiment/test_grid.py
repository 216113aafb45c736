"""Grid expansion: arms × schedule parameter lists × gold sizes × seeds, stable ids, equal step budgets."""

from __future__ import annotations

from typing import Any

import pytest

from offline_ner.errors import ConfigError
from offline_ner.experiment import expand_grid, experiment_from_mapping


def config(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "t",
        "gold": "gold.conll",
        "distilled": {"llm": "llm.jsonl"},
        "dev": "dev.conll",
        "test": "test.conll",
        "gold_sizes": [500, 1000],
        "seeds": [1, 2],
        "arms": [
            {"name": "gold-only", "regimen": "gold"},
            {"name": "simple-mix", "regimen": "distilled_then_gold"},
        ],
    }
    return {**base, **changes}


def test_grid_is_arms_times_sizes_times_seeds_and_seed_major() -> None:
    cells = expand_grid(experiment_from_mapping(config()))
    assert len(cells) == 2 * 2 * 2
    assert [c.seed for c in cells] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert len({c.cell_id for c in cells}) == len(cells) == len({c.fingerprint for c in cells})


def test_schedule_parameter_lists_expand_into_labelled_cells() -> None:
    arms = [{"name": "sigmoid", "regimen": "blend", "schedule": {"kind": "sigmoid", "k": [5, 10, 20], "p0": 0.5}}]
    cells = expand_grid(experiment_from_mapping(config(arms=arms, gold_sizes=[1000], seeds=[1])))
    assert [c.label for c in cells] == ["sigmoid[k=5]", "sigmoid[k=10]", "sigmoid[k=20]"]
    assert [c.schedule for c in cells] == [{"kind": "sigmoid", "k": k, "p0": 0.5} for k in (5, 10, 20)]


def test_fingerprint_changes_only_for_cells_whose_recipe_changed() -> None:
    before = expand_grid(experiment_from_mapping(config()))
    arms = [{"name": "gold-only", "regimen": "gold"},
            {"name": "simple-mix", "regimen": "distilled_then_gold", "train": {"learning_rate": 3e-5}}]
    after = expand_grid(experiment_from_mapping(config(arms=arms)))
    changed = {a.cell_id for a, b in zip(before, after) if a.fingerprint != b.fingerprint}
    assert changed == {c.cell_id for c in after if c.arm == "simple-mix"}


def test_equal_step_budget_is_split_over_a_regimens_phases() -> None:
    cells = expand_grid(experiment_from_mapping(config(step_budget=600, gold_sizes=[1000], seeds=[1])))
    budgets = {c.arm: (c.train["max_steps"], c.train["phase_max_steps"]) for c in cells}
    assert budgets == {"gold-only": (600, []), "simple-mix": (0, [300, 300])}


def test_teacher_arm_runs_before_the_arm_selecting_with_it() -> None:
    arms = [{"name": "mix+agree", "regimen": "distilled_then_gold", "selection": {"teacher": "gold-only"}},
            {"name": "gold-only", "regimen": "gold"}]
    cells = expand_grid(experiment_from_mapping(config(arms=arms, gold_sizes=[1000], seeds=[1])))
    assert [c.arm for c in cells] == ["gold-only", "mix+agree"]


def test_arm_specific_gold_sizes_restrict_its_cells() -> None:
    arms = [{"name": "gold-only", "regimen": "gold"}, {"name": "llm-only", "regimen": "distilled", "gold_sizes": [500]}]
    cells = expand_grid(experiment_from_mapping(config(arms=arms, seeds=[1])))
    assert [(c.arm, c.gold_size) for c in cells] == [("gold-only", 500), ("llm-only", 500), ("gold-only", 1000)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arms": [{"name": "a", "regimen": "gold"}, {"name": "a", "regimen": "union"}]}, "duplicate arm names a"),
        ({"arms": [{"name": "a", "regimen": "gold", "distilled": "gpt9"}]}, "distilled source 'gpt9'"),
        ({"arms": [{"name": "a", "regimen": "gold", "selection": {"teacher": "nobody"}}]}, "teacher 'nobody'"),
        ({"gold_sizes": [0]}, "gold sizes must be positive"),
        ({"arms": []}, "non-empty list of arms"),
        ({"gold": {"path": "g", "colour": "red"}}, "unknown key(s) colour"),
    ],
)
def test_bad_experiment_config_is_rejected_with_the_key_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        experiment_from_mapping(config(**changes))


def test_unknown_regimen_with_a_step_budget_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown regimen 'magic'"):
        expand_grid(experiment_from_mapping(config(arms=[{"name": "a", "regimen": "magic"}], step_budget=10)))


def test_fold_kind_cells_rerun_when_their_teachers_recipe_changes_but_not_for_fields_they_ignore() -> None:
    def cells(teacher_lr: float, min_confidence: float) -> dict[str, str]:
        arms = [{"name": "gold-only", "regimen": "gold", "train": {"learning_rate": teacher_lr}},
                {"name": "mask", "regimen": "distilled_then_gold",
                 "selection": {"kind": "token_mask", "min_confidence": min_confidence}},
                {"name": "votes", "regimen": "distilled_then_gold", "selection": {"kind": "k_of_n", "k": 2}}]
        grid = expand_grid(experiment_from_mapping(config(arms=arms, gold_sizes=[1000], seeds=[1])))
        return {c.arm: c.fingerprint for c in grid}

    base = cells(1e-4, 0.9)
    assert cells(1e-4, 0.5)["mask"] == base["mask"]  # token_mask does not read min_confidence
    changed = cells(3e-5, 0.9)
    assert changed["mask"] != base["mask"] and changed["votes"] == base["votes"]  # k_of_n has no teacher


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ({"kind": "relabel", "folds": 1}, "folds: at least 2 folds"),
        ({"kind": "relabel", "min_confidence": 1.5}, "min_confidence: must be between 0 and 1"),
        ({"kind": "k_of_n", "k": 0}, "k: must be >= 1"),
        ({"kind": "vibes"}, "kind"),
    ],
)
def test_bad_selection_settings_are_rejected(selection: dict[str, Any], message: str) -> None:
    arms = [{"name": "gold-only", "regimen": "gold"}, {"name": "s", "regimen": "union", "selection": selection}]
    with pytest.raises(ConfigError, match=message):
        experiment_from_mapping(config(arms=arms))


def test_fold_teachers_must_train_on_gold_only() -> None:
    arms = [{"name": "mix", "regimen": "union"},
            {"name": "cv", "regimen": "union", "selection": {"kind": "cv_agreement", "teacher": "mix"}}]
    with pytest.raises(ConfigError, match="must train on gold only"):
        expand_grid(experiment_from_mapping(config(arms=arms)))
