"""What review buys: test F1 against the number of sentences a person handles, for ranked review, random review,
and the same effort spent on new gold sentences (issue 31). Pure (numpy through the bootstrap), no I/O.

The review arms are the rows whose selection kind is ``review`` (K = ``reviewed``, at one base gold size); the
new-gold line is :data:`NEW_GOLD_ARM` at base + K gold sentences; every line starts at K = 0 with that arm at the
base size (Simple Mix on every LLM label, nothing reviewed). Ranked against random at each K is a paired
bootstrap over the test sentences, seeds pooled (:func:`~offline_ner.experiment.significance.paired_bootstrap`).

Example::

    lines = review_lines(rows)            # {"ranked (entity-errors)": [ReviewPoint(0, ...), ...], ...}
    print(review_table(rows, counts))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from offline_ner.experiment.report import Stat, format_stat
from offline_ner.experiment.significance import BASELINE_ARM, RESAMPLES, UPPER_BOUND_ARM, paired_bootstrap
from offline_ner.review.choices import RANDOM

REVIEW_KIND = "review"
NEW_GOLD_ARM = "simple-mix"  # the review budget spent on new sentences instead: Simple Mix at base + K gold
RANDOM_LINE = "random review"
NEW_GOLD_LINE = "new gold sentences"


@dataclass(frozen=True)
class ReviewPoint:
    """One arm at one K: test F1 over its seeds."""

    reviewed: int
    f1: Stat
    seeds: tuple[int, ...]


def _is_review(row: Mapping[str, Any]) -> bool:
    return bool(row.get("selection")) and row["selection"].get("kind") == REVIEW_KIND


def _line_name(row: Mapping[str, Any]) -> str:
    selection = row["selection"]
    into_gold = selection.get("review_into") == "gold"
    if selection["ranking"] == RANDOM:
        return f"{RANDOM_LINE} (into gold)" if into_gold else RANDOM_LINE
    return f"ranked review ({selection['ranking']}{' into gold' if into_gold else ''})"


def _point(reviewed: int, group: Sequence[Mapping[str, Any]]) -> ReviewPoint:
    return ReviewPoint(reviewed, Stat.of([r["test"]["f1"] for r in group]), tuple(sorted(r["seed"] for r in group)))


def base_gold_size(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """The gold size the review arms ran at (None without review rows)."""
    sizes = {r["gold_size"] for r in rows if _is_review(r)}
    if len(sizes) > 1:
        raise ValueError(f"review arms at several gold sizes {sorted(sizes, key=str)}: report one at a time")
    return next(iter(sizes), None)


def review_lines(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[ReviewPoint]]:
    """Per line (each ranking, random review, new gold), its points by ascending K; K = 0 is Simple Mix at the
    base gold size where that row exists. Empty without review rows."""
    base = base_gold_size(rows)
    if base is None:
        return {}
    groups: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    for row in rows:
        if _is_review(row):
            groups.setdefault(_line_name(row), {}).setdefault(row["selection"]["reviewed"], []).append(row)
    ks = sorted({k for line in groups.values() for k in line})
    start = [r for r in rows if r["arm"] == NEW_GOLD_ARM and r["gold_size"] == base]
    new_gold = {k: [r for r in rows if r["arm"] == NEW_GOLD_ARM and r["gold_size"] == base + k] for k in ks}
    groups[NEW_GOLD_LINE] = {k: group for k, group in new_gold.items() if group}
    lines = {}
    for name in sorted(groups, key=lambda n: (n == NEW_GOLD_LINE, n == RANDOM_LINE, n)):
        points = [_point(k, group) for k, group in sorted(groups[name].items())]
        lines[name] = ([_point(0, start)] if start else []) + points
    return lines


REVIEW_COLUMNS = ["K", "ranking", "ranked review", "random review", "K new gold sentences",
                  "ranked − random, 95% interval", "p(ranked ≤ random)", "gain over Simple Mix: ranked / random",
                  "share of the perfect-label gain: ranked / random / new gold"]


def review_table(rows: Sequence[Mapping[str, Any]], counts: Mapping[str, np.ndarray],
                 resamples: int = RESAMPLES) -> str:
    """A Markdown table, one line per K and ranking: F1 of the ranked, random and new-gold lines (mean ± std,
    seeds), the paired bootstrap of ranked against random over the seeds both ran with test tags (``counts``: cell
    id -> sentence counts), each one's gain over Simple Mix at K = 0, and the share of the perfect-label gain
    ((F1 - gold-only) / (upper bound - gold-only) at the base gold size). "" without review rows."""
    lines = review_lines(rows)
    if not lines:
        return ""
    base = base_gold_size(rows)
    rankings: list[str | None] = [name for name in lines if name not in (RANDOM_LINE, NEW_GOLD_LINE)] or [None]
    by_k = {name: {p.reviewed: p for p in points} for name, points in lines.items()}

    def mean_of(arm: str) -> float | None:
        found = [r["test"]["f1"] for r in rows if r["arm"] == arm and r["gold_size"] == base]
        return float(np.mean(found)) if found else None

    simple_mix, floor, ceiling = mean_of(NEW_GOLD_ARM), mean_of(BASELINE_ARM), mean_of(UPPER_BOUND_ARM)

    def point(name: str | None, k: int) -> ReviewPoint | None:
        return by_k.get(name or "", {}).get(k)

    def cell(name: str | None, k: int) -> str:
        found = point(name, k)
        return f"{format_stat(found.f1)} ({','.join(map(str, found.seeds))})" if found else "–"

    def share(name: str | None, k: int) -> str:
        found = point(name, k)
        if found is None or floor is None or ceiling is None or ceiling <= floor:
            return "–"
        return f"{(found.f1.mean - floor) / (ceiling - floor):.0%}"

    def gains(ranked: str | None, k: int) -> str:
        a, b = point(ranked, k), point(RANDOM_LINE, k)
        if a is None or b is None or simple_mix is None:
            return "–"
        ga, gb = a.f1.mean - simple_mix, b.f1.mean - simple_mix
        ratio = f" ({ga / gb:.1f}×)" if gb > 0 else ""
        return f"{ga:+.4f} / {gb:+.4f}{ratio}"

    out = ["| " + " | ".join(REVIEW_COLUMNS) + " |", "|" + "---|" * len(REVIEW_COLUMNS)]
    for k in sorted({k for points in by_k.values() for k in points} - {0}):
        for ranked in rankings:
            if ranked is not None and point(ranked, k) is None:
                continue
            bootstrap = _ranked_vs_random(rows, counts, ranked, k, resamples)
            name = "–" if ranked is None else ranked.removeprefix("ranked review (").removesuffix(")")
            out.append("| " + " | ".join([
                f"{k:,}", name, cell(ranked, k), cell(RANDOM_LINE, k), cell(NEW_GOLD_LINE, k), *bootstrap,
                gains(ranked, k), " / ".join(share(line, k) for line in (ranked, RANDOM_LINE, NEW_GOLD_LINE)),
            ]) + " |")
    return "\n".join(out) + "\n"


def _ranked_vs_random(rows: Sequence[Mapping[str, Any]], counts: Mapping[str, np.ndarray], ranked: str | None,
                      k: int, resamples: int) -> tuple[str, str]:
    def cells(name: str | None) -> dict[int, str]:
        return {r["seed"]: r["cell_id"] for r in rows if _is_review(r) and _line_name(r) == name
                and r["selection"]["reviewed"] == k and r["cell_id"] in counts}

    a, b = cells(ranked), cells(RANDOM_LINE)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return "–", "–"
    result = paired_bootstrap([(counts[a[s]], counts[b[s]]) for s in seeds], resamples)
    return (f"{result.delta:+.4f} [{result.low:+.4f}, {result.high:+.4f}] (seeds {','.join(map(str, seeds))})",
            f"{result.p_not_better:.3f}")
