"""``offline-ner predict``: documents in, entities out (JSONL), or CoNLL sentences in, tags out (thin layer)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.infer.config import DEVICES, PRECISIONS
from offline_ner.infer.inputs import FORMATS as INPUT_FORMATS

if TYPE_CHECKING:
    from offline_ner.data import Document, Record
    from offline_ner.infer.shard import ShardSpec

T = TypeVar("T")


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


def _read_units(inputs: tuple[Path, ...], fmt: str) -> tuple[str, Iterator[Document | Record]]:
    """The output format (``conll`` for token input, else ``jsonl``) and the input's units, streamed in order."""
    from offline_ner.infer.inputs import detect_format, iter_documents, iter_token_sentences

    formats = {detect_format(path) if fmt == "auto" else fmt for path in inputs}
    if "conll" in formats and len(formats) > 1:
        raise click.UsageError("CoNLL (token) input cannot be mixed with text or JSONL input in one run")
    if formats == {"conll"}:
        return "conll", itertools.chain.from_iterable(iter_token_sentences(path) for path in inputs)
    return "jsonl", itertools.chain.from_iterable(iter_documents(path, fmt) for path in inputs)


def _inputs_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--input", "inputs", required=True, multiple=True, type=click.Path(path_type=Path),
                        help=help_text)


def _format_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(INPUT_FORMATS), default="auto",
                        show_default=True, help=help_text)


# predict and predict-merge read the same inputs and write the same kind of output
_output_option = click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path),
                              help="Output file ('-': stdout).")


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "onnx_dir", required=True, type=click.Path(path_type=Path), help="Folder from `export`.")
@_inputs_option("Input file or folder of .txt files; repeat for several.")
@_output_option
@_format_option("Input format; auto: .jsonl -> jsonl, .conll/.iob/.bio -> conll, else text (one document per line).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option(
    "--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
    help="auto: fp16 on CUDA; int8 on CPU when exported, else fp32.",
)
@click.option("--batch-tokens", type=click.IntRange(min=16), default=None, help="Token budget per batch.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: physical cores).")
@click.option(
    "--shard", "shard", default=None, metavar="K/N", callback=_parse_shard,
    help="Run only shard K of N (1 <= K <= N, cut by a hash of each document id) and write <output>.shard.json "
    "beside the output; join the shards with `offline-ner predict-merge`.",
)
@json_option
@handles_errors
def predict(
    onnx_dir: Path, inputs: tuple[Path, ...], out_path: Path, fmt: str, device: str, precision: str,
    batch_tokens: int | None, threads: int | None, shard: ShardSpec | None, as_json: bool,
) -> None:
    """Find named entities in documents with an exported ONNX model.

    Text and JSONL input ({"id", "text"} per line) give JSONL output, one line per document:
    {"id", "entities": [{"type", "start", "end", "text", "score"}]}, offsets are characters into the text.
    CoNLL input (tokens in the first column) gives two-column CoNLL output with the predicted tags. The output
    file appears only when every input was read; the device and graph chosen are reported on stderr.

    Example:

    \b
        offline-ner predict --model runs/onnx --input news.jsonl -o entities.jsonl
    """
    from offline_ner._fs import atomic_writer
    from offline_ner.data import format_conll
    from offline_ner.infer import InferConfig, NerEngine
    from offline_ner.infer.inputs import write_entities_jsonl
    from offline_ner.infer.shard import ShardRun, manifest_path

    output_format, units = _read_units(inputs, fmt)
    if shard is not None and str(out_path) == "-":
        raise click.UsageError("--shard needs an output file (its manifest goes beside it), not '-'")
    overrides = {"max_batch_tokens": batch_tokens} if batch_tokens else {}
    engine = NerEngine(onnx_dir, InferConfig(device=device, precision=precision, threads=threads, **overrides))
    chosen = engine.describe()
    click.echo(
        f"device {chosen['device']} ({chosen['reason']}), graph {chosen['model_file']} ({chosen['precision']}), "
        f"{chosen['threads']} threads",
        err=True,
    )
    if shard is not None and chosen["precision"] == "int8":
        click.echo(
            "warning: the int8 graph quantises activations per batch, so its tags and scores depend on which "
            "documents share a batch; merged int8 shards can differ from one run. Use --precision fp32 for "
            "byte-identical output (README: Scaling out)",
            err=True,
        )
    run = ShardRun(shard, out_path, output_format) if shard is not None else None
    feed, keep = itertools.tee(_progress(run.select(units) if run is not None else units))
    with atomic_writer(out_path, "w") as handle:
        if output_format == "conll":
            tagged = zip(keep, engine.predict_tokens(record.tokens for record in feed))
            handle.writelines(format_conll(record.with_tags(tags) for record, tags in tagged))
        else:
            write_entities_jsonl(handle, zip(keep, engine.predict(doc.text for doc in feed)))
    stats = engine.stats
    click.echo(stats.line(), err=True)
    summary = {"output": str(out_path), "engine": chosen, "throughput": stats.to_json()}
    if run is not None:
        manifest = run.finish()
        summary["shard"] = {"manifest": str(manifest_path(out_path)), **asdict(manifest)}
    emit(summary, as_json, f"wrote {out_path}", err=str(out_path) == "-")


@click.command("predict-merge", epilog=EXIT_CODES_EPILOG)
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@_inputs_option("The same input(s), in the same order, that every shard was run on.")
@_output_option
@_format_option("Input format, as given to the shards.")
@json_option
@handles_errors
def predict_merge(shards: tuple[Path, ...], inputs: tuple[Path, ...], out_path: Path, fmt: str, as_json: bool) -> None:
    """Join the outputs of `predict --shard K/N` into the output one unsharded `predict` run gives, byte for byte.

    Reads the input again (no model) and refuses, with the shard exit code below and nothing written, when the shards do not cover
    it exactly once: a shard missing or given twice, a shard without its manifest (unfinished), one cut for
    another N or from another input, or an output changed after its shard finished.

    Example:

    \b
        offline-ner predict-merge --input news.jsonl -o entities.jsonl parts/part-*.jsonl
    """
    from offline_ner.infer.shard import merge_shards

    _, units = _read_units(inputs, fmt)
    report = merge_shards(units, shards, out_path)
    emit({"output": str(out_path), **asdict(report)}, as_json,
         f"merged {report.shards} shards, {report.units} units into {out_path}", err=str(out_path) == "-")
