"""The shipped paper config loads, expands to the paper's design, and (with the research data) reads it right."""

from __future__ import annotations

from pathlib import Path

from offline_ner.experiment import ExperimentData, expand_grid, load_experiment

PAPER = "experiments/paper"  # packaged config, by name
REQUIRED_ARMS = {"gold-only", "distilled-only", "union", "simple-mix", "gold-then-distilled", "blend-sigmoid",
                 "blend-power", "simple-mix+agreement", "upper-bound-gold-labels"}


def test_paper_config_covers_every_regimen_the_paper_compares_at_every_gold_size() -> None:
    cfg = load_experiment(PAPER)
    assert {arm.name for arm in cfg.arms} == REQUIRED_ARMS
    assert cfg.gold_sizes == (500, 1000, 2000, "all") and len(cfg.seeds) >= 2
    cells = expand_grid(cfg)
    assert {c.regimen for c in cells} == {"gold", "distilled", "union", "distilled_then_gold",
                                          "gold_then_distilled", "blend"}
    assert all(sum(c.train.get("phase_max_steps") or [c.train["max_steps"]]) == cfg.step_budget for c in cells)


def test_paper_data_splits_gold_from_the_noisebench_sentences(shared_data: Path, monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the config names ../shared/data from the repo root
    data = ExperimentData.load(load_experiment(PAPER))
    assert len(data.distilled["llm"]) == len(data.distilled["gold_labels"]) == 5885
    assert [r.tokens for r in data.distilled["llm"]] == [r.tokens for r in data.distilled["gold_labels"]]
    distilled_ids = {r.id for r in data.distilled["llm"]}
    assert len(data.gold_pool) == 14041 - len(distilled_ids)
    assert not distilled_ids & {r.id for r in data.gold_pool}
    assert len(data.dev) == 3250 and len(data.test) == 3453


def test_converged_config_runs_every_regimen_at_two_gold_sizes_and_every_selection_method_at_1000() -> None:
    cfg = load_experiment("experiments/converged")
    kinds = {arm.selection.kind for arm in cfg.arms if arm.selection is not None}
    assert kinds == {"agreement", "cv_agreement", "token_mask", "confident_learning", "relabel", "retype"}
    assert REQUIRED_ARMS - {"simple-mix+agreement"} <= {arm.name for arm in cfg.arms}
    assert cfg.gold_sizes == (1000, 2000) and len(cfg.seeds) == 3 and cfg.step_budget == 0
    cells = expand_grid(cfg)
    assert {c.regimen for c in cells} == {"gold", "distilled", "union", "distilled_then_gold",
                                          "gold_then_distilled", "blend"}
    assert {c.gold_size for c in cells if c.selection is not None} == {1000}
    two_phase = [c for c in cells if c.regimen in ("distilled_then_gold", "gold_then_distilled")]
    # equal epochs per source: distilled 2 and gold 10 wherever each is a phase of its own
    assert all(sorted(c.train["phase_epochs"]) == [2, 10] for c in two_phase)
