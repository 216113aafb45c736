"""``offline-ner init config``: write a commented starting config for a regimen (thin layer over starter_config)."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.errors import ConfigError
from offline_ner.train.config import TrainConfig
from offline_ner.train.regimens import REGIMENS


@click.group(epilog=EXIT_CODES_EPILOG)
def init() -> None:
    """Write starting files (a config) to edit."""


@init.command("config", epilog=EXIT_CODES_EPILOG)
@click.option("--regimen", type=click.Choice(REGIMENS), default=TrainConfig().regimen, show_default=True,
              help="The regimen to configure; its shipped config is the starting point.")
@click.option("-o", "--output", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("-"),
              show_default=True, help="Where to write the YAML ('-': stdout).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@json_option
@handles_errors
def config(regimen: str, out_path: Path, force: bool, as_json: bool) -> None:
    """Write a commented training config: the shipped one for REGIMEN, plus every other key at its default.

    \b
    Example:
        offline-ner init config --regimen blend -o blend.yaml
        offline-ner train --config blend.yaml --gold gold.conll --distilled llm.jsonl --dev dev.conll --out runs/b
    """
    from offline_ner._fs import atomic_write_text
    from offline_ner.train.starter import starter_config

    text = starter_config(regimen)
    if str(out_path) == "-":
        click.echo(text, nl=False)
        emit({"regimen": regimen, "output": "-"}, as_json, err=True)
        return
    if out_path.exists() and not force:
        raise ConfigError(f"{out_path} exists; pass --force to replace it")
    atomic_write_text(out_path, text)
    emit({"regimen": regimen, "output": str(out_path)}, as_json, f"wrote {out_path} ({regimen})")
