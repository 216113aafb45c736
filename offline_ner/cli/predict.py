"""``offline-ner predict``: documents in, entities out (JSONL), or CoNLL sentences in, tags out (thin layer)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from offline_ner.cli import options
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.infer.config import InferConfig
from offline_ner.infer.shard import ShardSpec


@click.command(epilog=EXIT_CODES_EPILOG)
@options.onnx_model_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@options.inputs_option("Input file or folder of .txt files ('-': stdin); repeat for several, or give them as arguments.")
@options.output_option
@options.input_format_option
@options.output_format_option
@options.engine_options
@options.decode_option
@options.shard_option
@options.ray_options
@json_option
@handles_errors
def predict(
    onnx_dir: Path, paths: tuple[Path, ...], inputs: tuple[Path, ...], out_path: Path, input_format: str,
    output_format: str, device: str, precision: str, batch_tokens: int | None, threads: int | None, decode: str,
    shard: ShardSpec | None, engine_name: str, address: str | None, actors: int | None, batch_docs: int | None,
    as_json: bool,
) -> None:
    """Find named entities in documents (PATHS and --input; '-' is stdin) with an exported ONNX model.

    Text and JSONL input ({"id", "text"} per line) give JSONL output, one line per document:
    {"id", "entities": [{"type", "start", "end", "text", "score"}]}, offsets are characters into the text.
    CoNLL input (tokens in the first column) gives CoNLL output: token, gold tag (when the input had tags) and
    predicted tag. --format picks another output (hf, spacy, spacy-jsonl, label-studio). Output goes to stdout
    unless -o names a file, which appears only when every input was read; the device and graph chosen are
    reported on stderr.

    Examples:

    \b
        offline-ner predict --model runs/onnx --input news.jsonl -o entities.jsonl
        cat news.jsonl | offline-ner predict --model runs/onnx - | jq .entities
        offline-ner predict --model runs/onnx news.txt --format label-studio -o tasks.json
    """
    config = InferConfig(device=device, precision=precision, threads=threads, decode=decode,
                         max_batch_tokens=batch_tokens or InferConfig.max_batch_tokens)
    if engine_name == "ray":
        _predict_on_ray(onnx_dir, paths + inputs, out_path, input_format, output_format, config, shard, address,
                        actors, batch_docs, as_json)
        return
    if given := [name for name, value in {"--address": address, "--actors": actors, "--batch-docs": batch_docs}.items()
                 if value is not None]:
        raise click.UsageError(f"{', '.join(given)} apply to --engine ray only")
    from offline_ner.infer.local_engine import batch_dependence_warning, choice_line, predict_files

    def announce(chosen: dict[str, Any]) -> None:
        click.echo(choice_line(chosen), err=True)
        if shard is not None and not chosen["batch_independent"]:
            click.echo(batch_dependence_warning("merged shards"), err=True)

    run = predict_files(paths + inputs, onnx_dir, out_path, config, fmt=input_format, output_format=output_format,
                        shard=shard, on_start=announce, progress=True)
    click.echo(run.throughput.line(), err=True)
    emit(run.to_json(), as_json, f"wrote {out_path}", err=str(out_path) == "-")


def _predict_on_ray(
    onnx_dir: Path, inputs: tuple[Path, ...], out_path: Path, fmt: str, output_format: str, config: InferConfig,
    shard: ShardSpec | None, address: str | None, actors: int | None, batch_docs: int | None, as_json: bool,
) -> None:
    """``--engine ray``: one library call (:func:`offline_ner.infer.ray_engine.predict_files`), then its report."""
    from offline_ner.infer.local_engine import batch_dependence_warning
    from offline_ner.infer.ray_engine import batch_dependent_on_cpu, predict_files

    if output_format not in ("auto", "jsonl"):
        raise click.UsageError("--engine ray writes JSONL entities; convert them afterwards for other formats")
    if shard is not None:
        raise click.UsageError("--shard and --engine ray do not combine: Ray spreads the documents itself")
    if config.device != "cuda" and batch_dependent_on_cpu(onnx_dir, config.precision):
        click.echo(batch_dependence_warning("the ray engine's output"), err=True)
    run = predict_files(inputs, onnx_dir, out_path, config, fmt=fmt, address=address, actors=actors,
                        batch_size=batch_docs)
    click.echo(run.line(), err=True)
    emit({"output": str(out_path), "engine": {"name": "ray", **asdict(run)}}, as_json, f"wrote {out_path}",
         err=str(out_path) == "-")


@click.command("predict-merge", epilog=EXIT_CODES_EPILOG)
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@options.inputs_option("The same input(s), in the same order, that every shard was run on.")
@options.output_option
@options.input_format_option
@json_option
@handles_errors
def predict_merge(
    shards: tuple[Path, ...], inputs: tuple[Path, ...], out_path: Path, input_format: str, as_json: bool
) -> None:
    """Join the outputs of `predict --shard K/N` into the output one unsharded `predict` run gives, byte for byte.

    Reads the input again (no model) and refuses, with the shard exit code below and nothing written, when the shards do not cover
    it exactly once: a shard missing or given twice, a shard without its manifest (unfinished), one cut for
    another N or from another input, or an output changed after its shard finished.

    Example:

    \b
        offline-ner predict-merge --input news.jsonl -o entities.jsonl parts/part-*.jsonl
    """
    from offline_ner.infer.local_engine import merge_files

    report = merge_files(shards, inputs, out_path, input_format)
    emit({"output": str(out_path), **asdict(report)}, as_json,
         f"merged {report.shards} shards, {report.units} units into {out_path}", err=str(out_path) == "-")
