"""The report's PNG plots: what each one draws, and when it is left out."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from offline_ner.experiment import summarise
from offline_ner.experiment.plots import gold_size_lines, plot_f1_by_arm, plot_f1_vs_gold_size, spread_labels
from tests.experiment.test_report import row


def test_gold_size_lines_keep_arms_run_at_two_sizes_in_ascending_size() -> None:
    summaries = summarise([
        row("gold-only", 1, 0.83, 2000), row("gold-only", 1, 0.80, 1000), row("gold-only", 1, 0.76, 500),
        row("simple-mix", 1, 0.82, 1000), row("simple-mix", 1, 0.90, "all"),  # "all" has no place on the axis
        row("retype", 1, 0.819, 1000),  # one size only
    ])
    lines = gold_size_lines(summaries)
    assert list(lines) == ["gold-only"]
    assert [(s.gold_size, s.test_f1.mean) for s in lines["gold-only"]] == [(500, 0.76), (1000, 0.80), (2000, 0.83)]


def test_f1_vs_gold_size_draws_the_arms_run_at_two_sizes(tmp_path: Path) -> None:
    summaries = summarise([
        row("gold-only", 1, 0.80, 1000), row("gold-only", 1, 0.83, 2000),
        row("simple-mix", 1, 0.82, 1000), row("simple-mix", 1, 0.84, 2000),
        row("retype", 1, 0.819, 1000),  # one size only: no line
    ])
    assert list(gold_size_lines(summaries)) == ["gold-only", "simple-mix"]
    path = plot_f1_vs_gold_size(summaries, tmp_path / "by_size.png")
    assert path == tmp_path / "by_size.png"
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000


def test_f1_vs_gold_size_writes_nothing_when_no_arm_has_two_sizes(tmp_path: Path) -> None:
    summaries = summarise([row("gold-only", 1, 0.80, 1000), row("retype", 1, 0.819, 2000)])
    assert plot_f1_vs_gold_size(summaries, tmp_path / "by_size.png") is None
    assert not (tmp_path / "by_size.png").exists()
    assert plot_f1_by_arm(summaries, tmp_path / "by_arm.png").stat().st_size > 1000


def test_labels_of_distant_values_stay_at_their_values() -> None:
    assert spread_labels([0.85, 0.61, 0.71], min_gap=0.01) == [0.85, 0.61, 0.71]


def test_labels_of_close_values_are_spread_a_gap_apart_around_their_mean_in_value_order() -> None:
    # the 2,000-gold column of the converged grid: blend-sigmoid 0.831 and gold-only 0.829 overlapped
    values = [0.829, 0.841, 0.850, 0.623, 0.713, 0.831, 0.825]
    positions = spread_labels(values, min_gap=0.006)
    ranked = sorted(positions)
    assert all(b - a >= 0.006 - 1e-12 for a, b in itertools.pairwise(ranked))
    assert sorted(range(7), key=positions.__getitem__) == sorted(range(7), key=values.__getitem__)
    # 0.825, 0.829 and 0.831 form one run a gap apart around their mean; the rest stay at their values
    mean = (0.825 + 0.829 + 0.831) / 3
    assert positions == pytest.approx([mean, 0.841, 0.850, 0.623, 0.713, mean + 0.006, mean - 0.006])


def test_a_run_that_reaches_its_neighbour_absorbs_it() -> None:
    positions = spread_labels([0.825, 0.829, 0.831, 0.841], min_gap=0.008)  # the run of three reaches 0.841
    assert positions == pytest.approx([0.8315 - 0.012, 0.8315 - 0.004, 0.8315 + 0.004, 0.8315 + 0.012])
