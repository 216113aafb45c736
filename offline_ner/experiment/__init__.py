"""Experiments: the paper's regimen and schedule comparisons as one resumable grid, with a table and plots.

An orchestration layer over ``offline_ner.train`` and ``offline_ner.data`` (it imports no other stage; bundle
sources are resolved by a callable the CLI passes in). Pure parts (config, grid, results, report, selection)
import no torch.

Example::

    cfg = load_experiment("experiments/paper")
    outcome = run_experiment(cfg)          # skips cells already in results.jsonl
    print(outcome.table_path.read_text())
"""

from offline_ner.experiment.config import (
    ArmConfig,
    ExperimentConfig,
    SelectionConfig,
    SourceConfig,
    experiment_from_mapping,
    load_experiment,
)
from offline_ner.experiment.grid import Cell, expand_grid
from offline_ner.experiment.pools import ExperimentData, read_noisebench
from offline_ner.experiment.report import Summary, csv_text, markdown_table, parse_runs_csv, runs_csv, summarise
from offline_ner.experiment.results import ResultStore
from offline_ner.experiment.runner import ExperimentOutcome, import_runs_csv, run_experiment, write_report
from offline_ner.experiment.selection import apply_selection, select_by_agreement, selection_report, span_agreement

__all__ = [
    "ArmConfig",
    "Cell",
    "ExperimentConfig",
    "ExperimentData",
    "ExperimentOutcome",
    "ResultStore",
    "SelectionConfig",
    "SourceConfig",
    "Summary",
    "apply_selection",
    "csv_text",
    "expand_grid",
    "experiment_from_mapping",
    "import_runs_csv",
    "load_experiment",
    "markdown_table",
    "parse_runs_csv",
    "read_noisebench",
    "run_experiment",
    "runs_csv",
    "select_by_agreement",
    "selection_report",
    "span_agreement",
    "summarise",
    "write_report",
]
