"""``offline-ner predict``: documents in, entities out (JSONL), or CoNLL sentences in, tags out (thin layer)."""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli._decode import decode_option
from offline_ner.data.formats import PREDICTION_FORMATS, UNIT_FORMATS
from offline_ner.infer.config import ACTOR_THREADS, BLOCK_CHARS, DEVICES, PRECISIONS, InferConfig

if TYPE_CHECKING:
    from offline_ner.data import Document, Record
    from offline_ner.infer.shard import ShardRun, ShardSpec, Unit

T = TypeVar("T")
ENGINES = ("local", "ray")
_ENGINE_DEFAULTS = InferConfig()


def _progress(items: Iterable[T]) -> Iterator[T]:
    """A document counter with rate on stderr (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    yield from tqdm(items, unit="doc", file=sys.stderr, disable=None, mininterval=0.5)


def _parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> ShardSpec | None:
    from offline_ner.infer.shard import ShardSpec

    try:
        return None if value is None else ShardSpec.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _is_token_input(inputs: tuple[Path, ...], fmt: str) -> bool:
    """Whether the input is pre-tokenised (CoNLL sentences) rather than documents; refuses what predict cannot read.

    Detection reads the start of each input now, so a bad input is refused before the model loads.
    """
    from offline_ner.infer.inputs import PARQUET_SUFFIXES, detect_format

    if not inputs:
        raise click.UsageError("give at least one input: a file, a folder of .txt files, or '-' for stdin")
    if any(path.suffix.lower() in PARQUET_SUFFIXES for path in inputs):
        raise click.UsageError("Parquet input is read by the Ray engine: add --engine ray (extra [ray])")
    formats = {detect_format(path) if fmt == "auto" else fmt for path in inputs}
    unreadable = sorted(formats - set(UNIT_FORMATS))
    if unreadable:
        raise click.UsageError(
            f"predict reads text, JSONL or CoNLL, and the input looks like {unreadable[0]}; convert it with "
            "`offline-ner convert`, or name the format with --input-format"
        )
    if "conll" in formats and len(formats) > 1:
        raise click.UsageError("CoNLL (token) input cannot be mixed with text or JSONL input in one run")
    return formats == {"conll"}


def _sentences(inputs: tuple[Path, ...]) -> Iterator[Record]:
    """The CoNLL sentences of every input, streamed in order."""
    from offline_ner.infer.inputs import iter_token_sentences

    return itertools.chain.from_iterable(iter_token_sentences(path) for path in inputs)


def _documents(inputs: tuple[Path, ...], fmt: str) -> Iterator[Document]:
    """The documents (text or JSONL) of every input, streamed in order."""
    from offline_ner.infer.inputs import iter_documents

    return itertools.chain.from_iterable(iter_documents(path, fmt) for path in inputs)


def _read_units(inputs: tuple[Path, ...], fmt: str) -> Iterator[Document] | Iterator[Record]:
    """The input's units, documents or sentences, streamed in order (checked first, see :func:`_is_token_input`)."""
    return _sentences(inputs) if _is_token_input(inputs, fmt) else _documents(inputs, fmt)


def _selected(units: Iterator[Unit], run: ShardRun | None) -> Iterator[Unit]:
    """The units of this shard (all of them when the run is not sharded), with a progress counter."""
    return _progress(run.select(units) if run is not None else units)


def _inputs_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--input", "inputs", multiple=True, type=click.Path(path_type=Path), help=help_text)


_input_format_option = click.option(
    "--input-format", "input_format", type=click.Choice(["auto", *UNIT_FORMATS]), default="auto",
    show_default=True,
    help="auto: detected from the content (JSON lines, CoNLL columns, else text with one document per line).",
)


# predict and predict-merge read the same inputs and write the same kind of output
_output_option = click.option("-o", "--output", "out_path", default=Path("-"), type=click.Path(path_type=Path),
                              show_default=True, help="Output file ('-': stdout).")


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "onnx_dir", required=True, type=click.Path(path_type=Path),
              help="Folder from `export`, or from `optimum-cli export onnx --task token-classification`.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_inputs_option("Input file or folder of .txt files ('-': stdin); repeat for several, or give them as arguments.")
@_output_option
@_input_format_option
@click.option(
    "--format", "output_format", type=click.Choice(["auto", *PREDICTION_FORMATS]), default="auto", show_default=True,
    help="auto: conll for CoNLL input, else jsonl. hf: transformers pipeline entities; spacy: a DocBin; "
    "spacy-jsonl: {text, spans}; label-studio: tasks with pre-annotations (README: Formats).",
)
@click.option("--device", type=click.Choice(DEVICES), default=_ENGINE_DEFAULTS.device, show_default=True)
@click.option(
    "--precision", type=click.Choice(PRECISIONS), default=_ENGINE_DEFAULTS.precision, show_default=True,
    help="auto: fp16 on CUDA, fp32 on CPU; int8: the exported int8 graph (CPU; its speed depends on the CPU).",
)
@click.option("--batch-tokens", type=click.IntRange(min=16), default=None, help="Token budget per batch.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: physical cores).")
@decode_option
@click.option(
    "--shard", "shard", default=None, metavar="K/N", callback=_parse_shard,
    help="Run only shard K of N (1 <= K <= N, cut by a hash of each document id) and write <output>.shard.json "
    "beside the output; join the shards with `offline-ner predict-merge`.",
)
@click.option(
    "--engine", "engine_name", type=click.Choice(ENGINES), default="local", show_default=True,
    help="local: this process; ray: actors on a Ray cluster (extra [ray]), same output. Under ray, --threads is "
    f"per actor (default {ACTOR_THREADS}).",
)
@click.option("--address", default=None, help="Ray cluster to join ('auto': this node's); default: start a local one.")
@click.option("--actors", type=click.IntRange(min=1), default=None,
              help="Ray actors, one ONNX session each (default: cluster CPUs / threads, or GPUs with --device cuda).")
@click.option("--batch-docs", type=click.IntRange(min=1), default=None,
              help="Documents per model call of one Ray actor (default: blocks of about "
              f"{BLOCK_CHARS // 1024}k characters of text).")
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
    from offline_ner._fs import atomic_writer
    from offline_ner.infer import NerEngine
    from offline_ner.infer.output import LINE_FORMATS, open_mode, write_documents, write_sentences
    from offline_ner.infer.shard import ShardRun, manifest_path

    config = InferConfig(device=device, precision=precision, threads=threads, decode=decode)
    if batch_tokens:
        config = dataclasses.replace(config, max_batch_tokens=batch_tokens)
    if engine_name == "ray":
        if output_format not in ("auto", "jsonl"):
            raise click.UsageError("--engine ray writes JSONL entities; convert them afterwards for other formats")
        _predict_on_ray(onnx_dir, paths + inputs, out_path, input_format, config, shard, address, actors,
                        batch_docs, as_json)
        return
    ray_only = {"--address": address, "--actors": actors, "--batch-docs": batch_docs}
    given = [name for name, value in ray_only.items() if value is not None]
    if given:
        raise click.UsageError(f"{', '.join(given)} apply to --engine ray only")
    tokens_in = _is_token_input(paths + inputs, input_format)
    fmt = ("conll" if tokens_in else "jsonl") if output_format == "auto" else output_format
    if fmt == "conll" and not tokens_in:
        raise click.UsageError("--format conll needs CoNLL (pre-tokenised) input; use jsonl, hf or spacy-jsonl")
    if shard is not None and str(out_path) == "-":
        raise click.UsageError("--shard needs an output file (its manifest goes beside it), not '-'")
    if shard is not None and fmt not in LINE_FORMATS:
        raise click.UsageError(f"--shard writes line formats ({', '.join(LINE_FORMATS)}), not {fmt}")
    engine = NerEngine(onnx_dir, config)
    chosen = engine.describe()
    click.echo(
        f"device {chosen['device']} ({chosen['reason']}), graph {chosen['model_file']} ({chosen['precision']}), "
        f"{chosen['threads']} threads",
        err=True,
    )
    if shard is not None and not engine.variant.batch_independent:
        _warn_batch_dependent("merged shards")
    run = ShardRun(shard, out_path, "conll" if fmt == "conll" else "jsonl") if shard is not None else None
    version = f"offline-ner {onnx_dir.name} {chosen['precision']}"
    with atomic_writer(out_path, open_mode(fmt)) as handle:
        if tokens_in:
            sentences, keep_sentences = itertools.tee(_selected(_sentences(paths + inputs), run))
            tags = engine.predict_tokens(record.tokens for record in sentences)
            write_sentences(handle, fmt, zip(keep_sentences, tags), version)
        else:
            documents, keep_documents = itertools.tee(_selected(_documents(paths + inputs, input_format), run))
            entities = engine.predict(doc.text for doc in documents)
            write_documents(handle, fmt, zip(keep_documents, entities), version)
    stats = engine.stats
    click.echo(stats.line(), err=True)
    summary = {"output": str(out_path), "engine": chosen, "throughput": stats.to_json()}
    if run is not None:
        manifest = run.finish()
        summary["shard"] = {"manifest": str(manifest_path(out_path)), **asdict(manifest)}
    emit(summary, as_json, f"wrote {out_path}", err=str(out_path) == "-")


def _warn_batch_dependent(what: str) -> None:
    click.echo(
        "warning: this int8 graph quantises activations with one scale per batch (an export from before per-row "
        f"scales, or optimum's), so its tags and scores depend on which documents share a batch; {what} can "
        "differ from one run. Re-export with --int8, or use --precision fp32 (README: Scaling out)",
        err=True,
    )


def _predict_on_ray(
    onnx_dir: Path, inputs: tuple[Path, ...], out_path: Path, fmt: str, config: InferConfig,
    shard: ShardSpec | None, address: str | None, actors: int | None, batch_docs: int | None, as_json: bool,
) -> None:
    """``--engine ray``: one library call (:func:`offline_ner.infer.ray.predict_files`), then its report."""
    from offline_ner.infer.ray import cpu_variant, predict_files

    if shard is not None:
        raise click.UsageError("--shard and --engine ray do not combine: Ray spreads the documents itself")
    variant = cpu_variant(onnx_dir, config.precision) if config.device != "cuda" else None
    if variant is not None and not variant.batch_independent:
        _warn_batch_dependent("the ray engine's output")
    run = predict_files(inputs, onnx_dir, out_path, config, fmt=fmt, address=address, actors=actors,
                        batch_size=batch_docs)
    click.echo(
        f"ray: {run.documents} documents in {run.seconds:.2f} s on {run.actors} actors x {run.threads_per_actor} "
        f"threads ({run.cluster_cpus:g} CPUs in the cluster, {run.address})",
        err=True,
    )
    emit({"output": str(out_path), "engine": {"name": "ray", **asdict(run)}}, as_json, f"wrote {out_path}",
         err=str(out_path) == "-")


@click.command("predict-merge", epilog=EXIT_CODES_EPILOG)
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@_inputs_option("The same input(s), in the same order, that every shard was run on.")
@_output_option
@_input_format_option
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
    from offline_ner.infer.shard import merge_shards

    report = merge_shards(_read_units(inputs, input_format), shards, out_path)
    emit({"output": str(out_path), **asdict(report)}, as_json,
         f"merged {report.shards} shards, {report.units} units into {out_path}", err=str(out_path) == "-")
