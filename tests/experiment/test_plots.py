"""The report's PNG plots: what each one draws, and when it is left out."""

from __future__ import annotations

from pathlib import Path

from offline_ner.experiment import summarise
from offline_ner.experiment.plots import gold_size_lines, plot_f1_by_arm, plot_f1_vs_gold_size
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
