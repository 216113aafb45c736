"""``offline-ner experiment``: run a regimen × schedule × gold size × seed grid from one YAML file."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._bundle_refs import resolve_source
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli.options import store_option
from offline_ner.contracts import BUNDLE_PREFIX
from offline_ner.data import Record


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Experiment YAML file, or a packaged one by name (experiments/paper).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set seeds=[1] --set out_dir=/tmp/exp (repeatable).")
@click.option("--only", multiple=True, metavar="ARM", help="Run only these arms (repeatable); others are kept.")
@click.option("--report-only", is_flag=True, help="Train nothing; rewrite the table, CSV and plots from results.")
@click.option("--import-rows", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="First add the rows of a published runs.csv (e.g. docs/experiments/results.csv) to the results "
                   "file, for a grid whose results.jsonl is lost: only the cells it lacks then run.")
@click.option("--plots-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the PNG plots here instead of the output folder (e.g. docs/experiments).")
@store_option
@json_option
@handles_errors
def experiment(config_path: Path, overrides: tuple[str, ...], only: tuple[str, ...], report_only: bool,
               import_rows: Path | None, plots_dir: Path | None, store: Path, as_json: bool) -> None:
    """Train and evaluate every cell of an experiment grid, then write a table, a CSV and plots.

    Resumable: cells already in OUT_DIR/results.jsonl are not rerun, so the same command continues a stopped
    grid. Rows: test F1 (mean ± std over seeds), per-type F1, dev F1, optimizer steps, wall time. A data source
    may be a verified, imported bundle: path: "bundle:<stream>[@<sequence>]/records.jsonl" (read from --store).
    Each cell's trained model folder (about 90 MB) is deleted once its row is written, except those a selection
    arm needs as teacher; set keep_models: true in the config to keep them all.

    \b
    Example:
      offline-ner experiment --config experiments/paper \\
          --set gold_sizes=[1000] --set seeds=[1,2] --set out_dir=runs/paper-1k
    """
    from offline_ner.experiment import import_runs_csv, load_experiment, run_experiment

    def resolve_bundle(reference: str) -> list[Record]:
        """Records of an imported bundle file; the store holds only verified payloads."""
        from offline_ner.data import read_records

        return read_records(resolve_source(BUNDLE_PREFIX + reference, store))

    cfg = load_experiment(config_path, overrides=overrides)
    if import_rows is not None:
        added = import_runs_csv(cfg, import_rows)
        click.echo(f"[experiment] {added} rows imported from {import_rows}", err=True)
    outcome = run_experiment(cfg, resolve_bundle=resolve_bundle, only=only, report_only=report_only,
                             plots_dir=plots_dir, progress=not as_json)
    human = outcome.table_path.read_text(encoding="utf-8") + (
        f"\n{len(outcome.ran)} run, {len(outcome.skipped)} already finished, {len(outcome.pending)} pending; "
        f"results in {outcome.results_path}"
    )
    emit(outcome.to_json(), as_json, human=human)
