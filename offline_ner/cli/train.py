"""``offline-ner train``: read the data sources a config names, train, report dev F1.

Flags such as ``--epochs`` are shorthands for ``--set epochs=...``; they win over ``--set``, which wins over the
config file. Data sources and the base model may be ``bundle:<stream>/<path>`` references to imported bundles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from offline_ner.cli._bundle_refs import resolve_base_model_source, resolve_source
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli._provenance import describe_source
from offline_ner.cli.options import store_option
from offline_ner.train.regimens import REGIMENS, regimen_phases

if TYPE_CHECKING:
    from offline_ner.contracts import TrainMetrics
    from offline_ner.train import TrainConfig

# flag name -> config key, for the keys people change most
SHORTHANDS = {
    "regimen": "regimen",
    "gold": "gold",
    "distilled": "distilled",
    "dev": "dev",
    "base_model": "base_model",
    "epochs": "epochs",
    "max_steps": "max_steps",
    "batch_size": "batch_size",
    "seed": "seed",
}


def _read_source(ref: str | None, store: Path, provenance: dict[str, Any], role: str,
                 labels: tuple[str, ...]) -> list[Any]:
    """The records of ``ref`` (none when not given), each tag one of ``labels`` (the run's label set);
    ``provenance[role]`` says where they came from."""
    from offline_ner.data import read_records, require_tags

    if ref is None:
        return []
    path = resolve_source(ref, store)
    records = read_records(path, allowed=labels)
    # before torch is imported; e.g. a CoNLL file without its tag column, read as plain text
    require_tags(records, f"{role} data must be labelled: CoNLL with a tag column, or JSONL with tags", path=path)
    provenance[role] = describe_source(ref, path, store, len(records))
    return records


def _require_sources(cfg: TrainConfig) -> None:
    """A data source the regimen trains on and nobody named is a usage error, found before torch is imported (the
    sources that were named are read first, so their own errors keep their codes)."""
    phases = regimen_phases(cfg.regimen)
    needed = [(role, flag) for role, flag, used in (
        ("gold", "--gold", any(p.uses_gold for p in phases)),
        ("distilled", "--distilled", any(p.uses_distilled for p in phases)),
    ) if used and getattr(cfg, role) is None]
    if needed:
        raise click.UsageError(
            f"regimen {cfg.regimen!r} trains on {' and '.join(role for role, _ in needed)} records: give "
            + " and ".join(f"{flag} (or {role}: in the config)" for role, flag in needed)
        )


def _warn_shared_ids(gold: list[Any], distilled: list[Any]) -> None:
    """Reviewed gold read back from Label Studio keeps the ids of the LLM records it was made from: training on
    both shows the model each of those sentences twice, once with the LLM's tags and once with the corrections."""
    shared = {r.id for r in gold} & {r.id for r in distilled}
    if shared:
        click.echo(f"warning: {len(shared)} record ids are in both --gold and --distilled (e.g. {min(shared)}): "
                   "the same sentences with two sets of tags? Drop the reviewed ones from the distilled data",
                   err=True)  # fmt: skip


def _summary(metrics: TrainMetrics, model_dir: Path) -> str:
    if metrics.best_dev_f1 is None:  # trained without a dev set
        lines = [f"phase {i + 1} {p.name:<10} {p.steps} steps" for i, p in enumerate(metrics.phases)]
        lines.append(f"no dev set: {metrics.steps} steps in {metrics.wall_s:.0f} s, the last model kept")
    else:
        lines = [
            f"phase {i + 1} {p.name:<10} best dev F1 {p.best_dev_f1:.4f} at step {p.best_step}"
            f" ({p.steps} steps{', stopped early' if p.stopped_early else ''})"
            for i, p in enumerate(metrics.phases)
        ]
        lines.append(f"dev F1 {metrics.best_dev_f1:.4f} ({metrics.dev_eval_mode} mode), "
                     f"{metrics.steps} steps in {metrics.wall_s:.0f} s")
    lines.append(f"model: {model_dir}")
    return "\n".join(lines)


def _without_nproc(args: list[str]) -> list[str]:
    """The command line minus ``--nproc N`` / ``--nproc=N``: what each torchrun worker runs."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML training config file, or a packaged one by name (simple_mix, gold, union, blend_sigmoid, ...); "
                   "defaults apply when omitted.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set schedule.k=5 (repeatable).")
@click.option("--regimen", type=click.Choice(REGIMENS), help="Shorthand for --set regimen=...")
@click.option("--gold", help="Gold data source: CoNLL/JSONL path or bundle:<stream>/<file>.")
@click.option("--distilled", help="Distilled (LLM-labelled) data source.")
@click.option("--dev", help="Dev data source: picks the best checkpoint and stops training. Without it, the "
              "full budget runs and the last model is kept.")
@click.option("--base-model", help="minilm-l6-uncased (its package, else its imported model bundle), a local HF "
              "model folder, or bundle:<stream>/.")
@click.option("--epochs", type=float, help="Epochs per phase.")
@click.option("--max-steps", type=int, help="Step budget per phase (replaces epochs).")
@click.option("--batch-size", type=int)
@click.option("--seed", type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (model/ with its README.md model card, metrics.json, train_log.jsonl); rerun to "
                   "resume.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Training processes on this machine (DDP under torchrun: gloo on CPU, nccl on GPU); "
                   "--batch-size is the global batch, split over them.")
@store_option
@json_option
@handles_errors
def train(config_path: Path | None, overrides: tuple[str, ...], out_dir: Path, quiet: bool, nproc: int,
          store: Path, as_json: bool, **shorthands: Any) -> None:
    """Fine-tune a token classifier on gold and distilled records with a regimen from the config.

    Regimens: gold, distilled, union, distilled_then_gold (Simple Mix), gold_then_distilled, blend
    (with a schedule: sigmoid, power, linear, exponential, step).

    Examples (local files; then data and base model from imported bundles):

    \b
        offline-ner train --config simple_mix --gold train.conll \\
            --distilled llm.jsonl --dev dev.conll --epochs 2 --out runs/simple-mix

    \b
        offline-ner train --config simple_mix --gold gold.conll \\
            --distilled bundle:conll-llm/records.jsonl --base-model bundle:bert-base-cased/ \\
            --dev dev.conll --store /srv/offline-ner/store --out runs/from-bundles
    """
    from offline_ner.config import load_config
    from offline_ner.train import TrainConfig
    from offline_ner.train.distributed import is_main, torchrun_command
    from offline_ner.train.trained_card import write_model_card

    # JSON is YAML: a path like "on" or "123" stays a string
    flags = [f"{SHORTHANDS[name]}={json.dumps(value)}" for name, value in shorthands.items() if value is not None]
    cfg = load_config(config_path, TrainConfig, overrides=[*overrides, *flags])
    if nproc > 1 and "WORLD_SIZE" not in os.environ:  # start the workers; each one runs this command
        raise SystemExit(subprocess.call(torchrun_command(nproc, _without_nproc(sys.argv[1:]))))
    if cfg.dev is None and is_main():
        click.echo("note: no dev set: no checkpoint selection or early stopping; the full budget runs and the "
                   "last model is kept", err=True)
    provenance: dict[str, Any] = {}
    gold, distilled, dev = (_read_source(ref, store, provenance, role, cfg.label_set)
                            for role, ref in (("gold", cfg.gold), ("distilled", cfg.distilled), ("dev", cfg.dev)))
    _require_sources(cfg)
    _warn_shared_ids(gold, distilled)
    # bundle:bert-base-cased/, or a packaged name served by its imported model bundle on a closed host
    base_model = resolve_base_model_source(cfg.base_model, store)
    provenance["base_model"] = describe_source(cfg.base_model, Path(base_model), store)
    cfg = dataclasses.replace(cfg, base_model=base_model)
    # only now torch and transformers (10-25 s): a config or data error above is reported in well under 2 s
    from offline_ner.train import train as run_training

    # the Trainer prints its log dicts to stdout; keep stdout for the one --json document
    with contextlib.redirect_stdout(sys.stderr):
        result = run_training(cfg, gold=gold, distilled=distilled, dev=dev, out_dir=out_dir, progress=not quiet)
    if not is_main():
        return
    write_model_card(result.model_dir, result.metrics, provenance)
    emit(
        {"model_dir": str(result.model_dir), "best_dev_f1": result.metrics.best_dev_f1,
         "metrics": result.metrics.to_json()},
        as_json,
        _summary(result.metrics, result.model_dir),
    )
