"""``offline-ner evaluate``: entity-level P/R/F1 of a trained model on a labelled file (seqeval)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from offline_ner._fs import atomic_write_text
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.train.config import EVAL_MODES


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="Trained HF model folder.")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help="Labelled CoNLL or JSONL file.")
@click.option("--mode", type=click.Choice(EVAL_MODES), default="default", show_default=True,
              help="strict: IOB2-exact entities (seqeval mode='strict').")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--max-length", type=click.IntRange(min=8), default=128, show_default=True,
              help="Window size in subwords; longer sentences are windowed, not truncated.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report here.")
@json_option
@handles_errors
def evaluate(model_dir: Path, data_path: Path, mode: str, batch_size: int, max_length: int,
             output: Path | None, as_json: bool) -> None:
    """Score MODEL on DATA: precision, recall and F1 per entity type and overall.

    Example:

        offline-ner evaluate --model runs/simple-mix/model --data test.conll --mode strict -o test.json
    """
    from offline_ner.data import read_records
    from offline_ner.train import evaluate_model

    records = read_records(data_path)
    report = evaluate_model(model_dir, records, mode=mode, batch_size=batch_size, max_length=max_length)
    result = {"model": str(model_dir), "data": str(data_path), **report.to_json()}
    if output is not None:
        atomic_write_text(output, json.dumps(result, indent=2, sort_keys=True) + "\n")
    emit(result, as_json, report.table())
