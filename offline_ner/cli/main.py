"""The ``offline-ner`` command: a click group whose subcommands load lazily.

Lazy loading keeps ``offline-ner --help`` and bundle verification fast: torch, onnxruntime and openai are
imported only by the command that needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from offline_ner import __version__
from offline_ner.cli._common import EXIT_CODES_EPILOG

# one line per command for the top-level --help, which must not import the stages to get their docstrings
SUMMARIES = {
    "annotate": "Connected side: label text with an LLM (plan, run, batch, import, replay).",
    "bundle": "Create, inspect, verify and import signed bundles.",
    "convert": "Convert labelled records between formats (JSONL, CoNLL, Label Studio, spaCy DocBin, HF).",
    "evaluate": "Score a trained model or an ONNX export on labelled data (seqeval P/R/F1 per type).",
    "experiment": "Run a grid of regimens, schedules, gold sizes and seeds; write tables and plots.",
    "export": "Export a trained model to ONNX, validated against PyTorch (fp32, fp16, int8).",
    "init": "Write a commented starting config for a regimen (init config).",
    "keys": "Generate Ed25519 signing keys (private key encrypted at rest).",
    "predict": "Batch NER over text, JSONL or CoNLL with ONNX Runtime (GPU, else CPU); --shard K/N for one shard.",
    "review": "Rank LLM-labelled sentences by expected label errors; write the top as Label Studio tasks.",
    "predict-merge": "Join the outputs of `predict --shard K/N` in input order, checking they cover it once.",
    "schedules": "Show or plot the blend schedules (share of distilled data over training).",
    "train": "Train a token classifier from gold and distilled records with a regimen.",
    "trust": "Manage the closed side's trust store (keys, roles, thresholds).",
}

# command name -> "module:attribute", one module per stage
COMMANDS = {
    "annotate": "offline_ner.cli.annotate:annotate",
    "bundle": "offline_ner.cli.bundle:bundle",
    "convert": "offline_ner.cli.convert:convert",
    "evaluate": "offline_ner.cli.evaluate:evaluate",
    "experiment": "offline_ner.cli.experiment:experiment",
    "export": "offline_ner.cli.export:export",
    "init": "offline_ner.cli.init:init",
    "keys": "offline_ner.cli.keys:keys",
    "predict": "offline_ner.cli.predict:predict",
    "predict-merge": "offline_ner.cli.predict:predict_merge",
    "review": "offline_ner.cli.review:review",
    "schedules": "offline_ner.cli.schedules:schedules",
    "train": "offline_ner.cli.train:train",
    "trust": "offline_ner.cli.trust:trust",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs or shows help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list names without importing every stage (their help text would pull in torch)
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, epilog=EXIT_CODES_EPILOG)
@click.version_option(__version__, prog_name="offline-ner")
@click.option("--debug", is_flag=True, help="Show a traceback for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """LLM-quality named-entity recognition for closed, air-gapped networks."""
    ctx.obj = {"debug": debug}


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="offline-ner")
