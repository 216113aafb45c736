"""Draw every blend schedule (default parameters plus a few variants) into one PNG, with matplotlib's Agg backend.

Example::

    plot_schedules(Path("schedules.png"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from offline_ner._fs import atomic_writer
from offline_ner.train.schedules import SCHEDULE_FORMULAS, SCHEDULE_KINDS, SCHEDULE_PARAMS, schedule_curve

# parameter variants drawn beside each default, to show what each parameter does
VARIANTS: Mapping[str, Sequence[Mapping[str, float]]] = {
    "sigmoid": ({"k": 5.0}, {"k": 20.0, "p0": 0.3}, {"s_max": 0.6}),
    "power": ({"alpha": 1.0}, {"alpha": 0.5}, {"alpha": 1.0, "tau": 0.1}),
    "linear": ({"s1": 0.3}, {"s0": 0.5, "s1": 0.5}),
    "exponential": ({"rate": 2.0}, {"rate": 10.0}),
    "step": ({"p0": 0.3}, {"p0": 0.7, "s1": 0.2}),
}
POINTS = 201


def plot_schedules(path: Path) -> Path:
    """Write a grid with one panel per schedule kind; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a closed network's batch jobs
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCHEDULE_KINDS), figsize=(4 * len(SCHEDULE_KINDS), 3.6), sharey=True)
    xs = [i / (POINTS - 1) for i in range(POINTS)]
    for ax, kind in zip(axes, SCHEDULE_KINDS):
        for params in ({}, *VARIANTS[kind]):
            curve = schedule_curve(kind, **params)
            merged = {**SCHEDULE_PARAMS[kind], **params}
            label = ", ".join(f"{k}={v:g}" for k, v in merged.items()) + (" (default)" if not params else "")
            ax.plot(xs, [curve(x) for x in xs], linewidth=2.2 if not params else 1.2, label=label)
        ax.set_title(f"{kind}\n{SCHEDULE_FORMULAS[kind]}", fontsize=9)
        ax.set_xlabel("training progress p")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper right")
    axes[0].set_ylabel("share of distilled records")
    fig.tight_layout()
    with atomic_writer(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path
