"""The review report: one line per K with ranked, random and new-gold F1, ranked against random bootstrapped on
the seeds both ran, the gain ratio over Simple Mix and the share of the perfect-label gain; and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from offline_ner.experiment.plots import plot_f1_vs_reviewed
from offline_ner.experiment.review_report import NEW_GOLD_LINE, RANDOM_LINE, review_lines, review_table

SENTENCES = 200


def row(arm: str, f1: float, seed: int, gold: int = 1000, ranking: str | None = None, k: int = 0) -> dict[str, Any]:
    selection = None if ranking is None else {"kind": "review", "ranking": ranking, "reviewed": k}
    return {"arm": arm, "label": arm, "cell_id": f"{arm}@{gold}@{seed}", "gold_size": gold, "seed": seed,
            "selection": selection, "test": {"f1": f1}}


def counts(correct: int) -> np.ndarray:
    """Per sentence one gold entity, found in the first ``correct`` sentences."""
    out = np.zeros((SENTENCES, 3), dtype=np.int64)
    out[:, 1:] = 1
    out[:correct, 0] = 1
    return out


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    out = []
    for seed in (1, 2):
        out += [row("gold-only", 0.80, seed), row("simple-mix", 0.82, seed), row("upper-bound-gold-labels", 0.84, seed),
                row("simple-mix", 0.83, seed, gold=1500),
                row("review-ranked-500", 0.835 + seed / 1000, seed, ranking="entity-errors", k=500),
                row("review-random-500", 0.824, seed, ranking="random", k=500)]
    return out + [row("review-ranked-250", 0.83, 1, ranking="entity-errors", k=250)]


def test_lines_start_at_simple_mix_and_follow_k(rows: list[dict[str, Any]]) -> None:
    lines = review_lines(rows)
    assert list(lines) == ["ranked review (entity-errors)", RANDOM_LINE, NEW_GOLD_LINE]
    ranked = lines["ranked review (entity-errors)"]
    assert [p.reviewed for p in ranked] == [0, 250, 500]
    assert ranked[0].f1.mean == pytest.approx(0.82) and ranked[2].f1.mean == pytest.approx(0.8365)
    assert ranked[1].seeds == (1,)
    assert [(p.reviewed, round(p.f1.mean, 3)) for p in lines[NEW_GOLD_LINE]] == [(0, 0.82), (500, 0.83)]


def test_table_bootstraps_ranked_against_random_and_shares_the_gain(rows: list[dict[str, Any]]) -> None:
    tags = {r["cell_id"]: counts(170 if "ranked" in r["arm"] else 150) for r in rows if r["arm"].startswith("review")}
    table = review_table(rows, tags, resamples=500)
    (k250, k500) = [line for line in table.splitlines()[2:]]
    assert k250.startswith("| 250 | entity-errors | 0.830 (1) | – | – | – |")  # random did not run at 250: nothing to compare
    assert "+0.1000 [" in k500 and "(seeds 1,2)" in k500 and "| 0.000 |" in k500
    # gains over Simple Mix (0.82): ranked +0.0165, random +0.004; shares of the 0.04 perfect-label gain
    assert "+0.0165 / +0.0040 (4.1×)" in k500
    assert k500.rstrip(" |").endswith("91% / 60% / 75%")
    assert review_table([r for r in rows if not r["arm"].startswith("review")], tags) == ""


def test_review_arms_at_two_gold_sizes_are_refused(rows: list[dict[str, Any]]) -> None:
    rows.append(row("review-random-500", 0.85, 3, gold=2000, ranking="random", k=500))
    with pytest.raises(ValueError, match="several gold sizes"):
        review_lines(rows)


def test_the_plot_draws_every_line(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    path = plot_f1_vs_reviewed(review_lines(rows), tmp_path / "f1_vs_reviewed.png", {"gold-only": 0.80})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_each_ranking_gets_its_own_line_against_the_same_random_review(rows: list[dict[str, Any]]) -> None:
    rows.append(row("review-uncertain-500", 0.84, 1, ranking="uncertainty", k=500))
    table = review_table(rows, {}, resamples=100)
    k500 = [line for line in table.splitlines() if line.startswith("| 500 |")]
    assert [line.split(" | ")[1] for line in k500] == ["entity-errors", "uncertainty"]
    assert all(" | 0.824 ± 0.000 (1,2) | " in line for line in k500)
