"""``offline-ner evaluate``: entity-level P/R/F1 of a trained model on a labelled file (seqeval)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from offline_ner._fs import atomic_write_text
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.data.formats import INPUT_FORMATS

if TYPE_CHECKING:
    from offline_ner.data import Record
    from offline_ner.train.evaluation import EvalReport
from offline_ner.cli.options import decode_option
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS
from offline_ner.infer.config import DEVICES, PRECISIONS, InferConfig
from offline_ner.train.config import EVAL_MODES, TrainConfig

# a model is scored as its training run scored dev: the same mode, batch and window size
_TRAINING = TrainConfig()


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="Trained HF model folder, or an ONNX export folder (scored with the inference engine).")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help="Labelled file ('-': stdin): CoNLL, JSONL, Label Studio export or spaCy DocBin.")
@click.option("--input-format", "input_format", type=click.Choice(["auto", *INPUT_FORMATS]), default="auto",
              show_default=True, help="Format of --data; auto: detected from the content.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=InferConfig().precision, show_default=True,
              help="ONNX exports only: the graph to score (auto: as predict picks it).")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
              help="ONNX exports only.")
@click.option("--mode", type=click.Choice(EVAL_MODES), default=_TRAINING.eval_mode, show_default=True,
              help="strict: IOB2-exact entities (seqeval mode='strict').")
@decode_option
@click.option("--batch-size", type=click.IntRange(min=1), default=_TRAINING.eval_batch_size, show_default=True)
@click.option("--max-length", type=click.IntRange(min=OVERLAP_TOKENS + 3), default=WINDOW_TOKENS, show_default=True,
              help="Window size in subwords ([CLS]/[SEP] included), the same for a trained folder and an export; "
                   "longer sentences are cut into overlapping windows, not truncated.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report here.")
@json_option
@handles_errors
def evaluate(model_dir: Path, data_path: Path, input_format: str, precision: str, device: str, mode: str,
             decode: str, batch_size: int, max_length: int, output: Path | None, as_json: bool) -> None:
    """Score MODEL on DATA: precision, recall and F1 per entity type and overall.

    MODEL is a trained folder (PyTorch) or an export folder (ONNX: `offline-ner export` or optimum-cli), so the
    graph that is deployed (fp32, int8 or fp16, --precision) is the one scored.

    Examples:

    \b
        offline-ner evaluate --model runs/simple-mix/model --data test.conll --mode strict -o test.json
        offline-ner evaluate --model runs/onnx --precision int8 --data test.conll
    """
    from offline_ner.data import read_records

    records = read_records(data_path, input_format)  # before torch is imported: bad data fails in under 2 s
    engine: dict[str, object] = {}
    if _is_onnx_folder(model_dir):
        report, engine = _evaluate_onnx(model_dir, records, mode, precision, device, decode, max_length)
    else:
        from offline_ner.train import evaluate_model

        report = evaluate_model(model_dir, records, mode=mode, batch_size=batch_size, max_length=max_length,
                                decode=decode)
    result = {"model": str(model_dir), "data": str(data_path), "decode": decode, **report.to_json(), **engine}
    if output is not None:
        atomic_write_text(output, json.dumps(result, indent=2, sort_keys=True) + "\n")
    emit(result, as_json, report.table())


def _is_onnx_folder(path: Path) -> bool:
    from offline_ner.infer.model_dir import is_onnx_folder

    return is_onnx_folder(path)


def _evaluate_onnx(
    onnx_dir: Path, records: list[Record], mode: str, precision: str, device: str, decode: str, max_length: int
) -> tuple[EvalReport, dict[str, object]]:
    """Score an export with the engine predict uses: words tagged at their first subword, windows over long ones."""
    from offline_ner.infer import NerEngine
    from offline_ner.train.evaluation import gold_tags, score_tags

    gold = gold_tags(records)
    engine = NerEngine(onnx_dir, InferConfig(device=device, precision=precision, decode=decode,
                                             max_seq_tokens=max_length))
    chosen = engine.describe()
    click.echo(f"device {chosen['device']}, graph {chosen['model_file']} ({chosen['precision']})", err=True)
    predicted = list(engine.predict_tokens(record.tokens for record in records))
    report = score_tags(gold, predicted, mode=mode)
    return report, {"engine": chosen}
