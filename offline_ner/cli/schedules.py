"""``offline-ner schedules``: list the blend schedules with their formulas, and plot every curve."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.train.schedules import SCHEDULE_FORMULAS, SCHEDULE_KINDS, SCHEDULE_PARAMS


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG of every curve.")
@json_option
@handles_errors
def schedules(plot_path: Path | None, as_json: bool) -> None:
    """List the blend schedules (share of distilled records over training progress p) and plot them.

    Use one in a config with `regimen: blend` and `schedule: {kind: sigmoid, k: 10}`.

    Example:

        offline-ner schedules --plot schedules.png
    """
    if plot_path is not None:
        from offline_ner.train.plotting import plot_schedules

        plot_schedules(plot_path)
    kinds = {
        kind: {"formula": SCHEDULE_FORMULAS[kind], "defaults": dict(SCHEDULE_PARAMS[kind])} for kind in SCHEDULE_KINDS
    }
    lines = [
        f"{kind:<12} {SCHEDULE_FORMULAS[kind]:<58} "
        + ", ".join(f"{k}={v:g}" for k, v in SCHEDULE_PARAMS[kind].items())
        for kind in SCHEDULE_KINDS
    ]
    if plot_path is not None:
        lines.append(f"plot written to {plot_path}")
    emit({"schedules": kinds, "plot": str(plot_path) if plot_path else None}, as_json, "\n".join(lines))
