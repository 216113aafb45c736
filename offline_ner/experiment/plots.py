"""PNG plots of an experiment: F1 by arm, F1 against gold size, F1 against sentences reviewed, and the blend schedules.

Matplotlib with the Agg backend (no display on a closed-network server); each function writes one file.

Example::

    plot_f1_by_arm(summaries, out_dir / "f1_by_arm.png")
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after matplotlib.use(): the backend must be chosen first
from matplotlib.transforms import offset_copy

from offline_ner.experiment.report import Summary
from offline_ner.experiment.review_report import ReviewPoint
from offline_ner.train.config import ScheduleConfig
from offline_ner.train.schedules import schedule_curve


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_f1_by_arm(summaries: Sequence[Summary], path: Path) -> Path:
    """Test F1 (mean ± std over seeds) as a point per arm and gold size, each labelled with its value.

    Points, not bars: the arms differ by tenths of a point to a few points, which bars drawn from zero would hide,
    and bars drawn from another origin would misstate. The axis spans the data.
    """
    sizes = list(dict.fromkeys(str(s.gold_size) for s in summaries))
    labels = list(dict.fromkeys(s.label for s in summaries))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) * max(1, len(sizes)) + 1.2))
    step = 0.8 / len(sizes)
    for j, size in enumerate(sizes):
        rows = {s.label: s for s in summaries if str(s.gold_size) == size}
        shown = [label for label in labels if label in rows]
        ys = [labels.index(label) + j * step for label in shown]
        means = [rows[label].test_f1.mean for label in shown]
        ax.errorbar(means, ys, xerr=[rows[label].test_f1.std for label in shown], fmt="o", capsize=3,
                    label=f"gold = {size}")
        for x, y in zip(means, ys):
            ax.annotate(f"{x:.3f}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_yticks([i + step * (len(sizes) - 1) / 2 for i in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set_xlabel("test F1 (mean ± std over seeds)")
    low = min(s.test_f1.mean - s.test_f1.std for s in summaries)
    high = max(s.test_f1.mean + s.test_f1.std for s in summaries)
    margin = max(0.01, 0.08 * (high - low))
    ax.set_xlim(max(0.0, low - margin), min(1.0, high + 2 * margin))
    ax.grid(axis="x", alpha=0.3)
    if len(sizes) > 1:
        ax.legend()
    return _save(fig, path)


def gold_size_lines(summaries: Sequence[Summary]) -> dict[str, list[Summary]]:
    """The arms to draw against gold size: label -> its summaries by ascending size, for arms run at two sizes or more.

    Rows whose gold size is not a number (e.g. "all") have no place on the x axis and are left out.
    """
    by_arm: dict[str, list[Summary]] = {}
    for s in summaries:
        if isinstance(s.gold_size, int):
            by_arm.setdefault(s.label, []).append(s)
    return {label: sorted(points, key=lambda s: int(s.gold_size)) for label, points in by_arm.items()
            if len(points) > 1}


def spread_labels(values: Sequence[float], min_gap: float) -> list[float]:
    """Where to write a label for each value so that no two are closer than ``min_gap``, in the values' order.

    A label stays at its value unless it would overlap a neighbour; labels that would overlap form a run
    ``min_gap`` apart, centred on the mean of their values (arms two tenths of a point apart stay readable).
    """
    def centre(run: list[int]) -> float:
        return statistics.fmean(values[k] for k in run)

    groups: list[list[int]] = []  # runs of label indices, ascending by value
    for index in sorted(range(len(values)), key=values.__getitem__):
        groups.append([index])
        while len(groups) > 1:
            low, high = groups[-2], groups[-1]
            top_of_low = centre(low) + (len(low) - 1) * min_gap / 2
            bottom_of_high = centre(high) - (len(high) - 1) * min_gap / 2
            if bottom_of_high - top_of_low >= min_gap:
                break
            groups[-2:] = [low + high]
    positions = [0.0] * len(values)
    for run in groups:
        start = centre(run) - (len(run) - 1) * min_gap / 2
        for n, index in enumerate(run):
            positions[index] = start + n * min_gap
    return positions


def plot_f1_vs_gold_size(summaries: Sequence[Summary], path: Path) -> Path | None:
    """Test F1 against the number of gold sentences, one line per arm run at two gold sizes or more.

    Arms measured at one size only (the selection arms of a grid) are left out: a line needs two points, and a
    lone point per arm would bury the lines under a legend. The x ticks are the sizes that were run. Returns
    None, writing nothing, when no arm was run at two sizes.
    """
    lines = gold_size_lines(summaries)
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10" if len(lines) <= 10 else "tab20").colors
    for colour, (label, points) in zip(colours, lines.items()):
        sizes, means = [int(s.gold_size) for s in points], [s.test_f1.mean for s in points]
        ax.errorbar(sizes, means, yerr=[s.test_f1.std for s in points], marker="o", capsize=3, color=colour,
                    label=label)
    ticks = sorted({int(s.gold_size) for points in lines.values() for s in points})
    # value labels right of each point, spread apart where arms end up close (one label height: 10 points)
    low, high = ax.get_ylim()
    gap = 10 / (ax.get_window_extent().height * 72 / fig.dpi) * (high - low)
    beside = offset_copy(ax.transData, fig=fig, x=6, y=-3, units="points")
    for size in ticks:
        at = [(colour, s.test_f1.mean) for colour, points in zip(colours, lines.values())
              for s in points if int(s.gold_size) == size]
        for (colour, mean), y in zip(at, spread_labels([mean for _, mean in at], gap)):
            ax.text(size, y, f"{mean:.3f}", transform=beside, fontsize=8, color=colour, va="center")
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.minorticks_off()
    ax.margins(x=0.1)  # room for the value labels right of the last size
    ax.set_xlabel("gold sentences (log scale)")
    ax.set_ylabel("test F1 (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_schedules(schedules: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """The distilled share over training progress for each blend arm (label -> schedule keys incl. ``kind``)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    progress = [i / 200 for i in range(201)]
    for label, schedule in schedules.items():
        resolved = ScheduleConfig(**schedule)  # the trainer's defaults fill the keys the arm left out
        curve = schedule_curve(resolved.kind, **resolved.params())
        ax.plot(progress, [curve(p) for p in progress], label=label)
    ax.set_xlabel("training progress")
    ax.set_ylabel("distilled share of each batch")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_f1_vs_reviewed(lines: Mapping[str, Sequence[ReviewPoint]], path: Path,
                        references: Mapping[str, float]) -> Path:
    """Test F1 (mean ± std over seeds) against K, the sentences a person reviewed or annotated, one line per arm;
    ``references`` (e.g. gold-only, the perfect-label upper bound) as dashed horizontal lines."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in lines.items():
        ax.errorbar([p.reviewed for p in points], [p.f1.mean for p in points], yerr=[p.f1.std for p in points],
                    fmt="o-", capsize=3, label=name)
    for k, (name, value) in enumerate(references.items()):
        ax.axhline(value, linestyle="--", linewidth=1, color=f"C{len(lines) + k}", label=f"{name} ({value:.3f})")
    ax.set_xlabel("sentences reviewed (or newly annotated), K")
    ax.set_ylabel("test F1 (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
