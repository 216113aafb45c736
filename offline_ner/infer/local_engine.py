"""``offline-ner predict`` in this process: read the inputs, tag them with one :class:`NerEngine`, write the output
(and, for one shard of a sharded run, its manifest); and ``predict-merge``: join the shards' outputs.

The same library call as the Ray engine's :func:`offline_ner.infer.ray_engine.predict_files`, with the same input
checks (:mod:`offline_ner.infer.input_checks`) made before the model loads. Inputs stream: memory stays flat on
inputs of any size, and the output file appears only once every input was read (temp file, then rename).

Example::

    run = predict_files([Path("news.jsonl")], Path("runs/onnx"), Path("entities.jsonl"), InferConfig())
    run.engine["device"], run.throughput.line()
    merge_files([Path("part-1.jsonl"), Path("part-2.jsonl")], [Path("news.jsonl")], Path("entities.jsonl"))
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from offline_ner._fs import atomic_writer
from offline_ner.data import Document, Record, unique_ids
from offline_ner.errors import EngineInputError
from offline_ner.infer.config import InferConfig
from offline_ner.infer.engine import NerEngine, Throughput
from offline_ner.infer.input_checks import check_inputs, check_output_format
from offline_ner.infer.inputs import iter_documents, iter_token_sentences
from offline_ner.infer.output import LINE_FORMATS, open_mode, write_documents, write_sentences
from offline_ner.infer.shard import MergeReport, ShardManifest, ShardRun, ShardSpec, manifest_path, merge_shards

T = TypeVar("T")


@dataclass(frozen=True)
class LocalRun:
    """What :func:`predict_files` did: the engine's choices (``NerEngine.describe``), its throughput, the shard."""

    output: Path
    output_format: str
    engine: dict[str, Any]
    throughput: Throughput
    shard: ShardManifest | None

    def to_json(self) -> dict[str, Any]:
        """The run's summary (``predict --json``): output, engine choices, throughput, the shard's manifest."""
        summary: dict[str, Any] = {"output": str(self.output), "engine": self.engine,
                                   "throughput": self.throughput.to_json()}
        if self.shard is not None:
            summary["shard"] = {"manifest": str(manifest_path(self.output)), **asdict(self.shard)}
        return summary


def choice_line(chosen: dict[str, Any]) -> str:
    """What the engine chose (``NerEngine.describe``) in one line: device and why, graph, threads."""
    return (f"device {chosen['device']} ({chosen['reason']}), graph {chosen['model_file']} ({chosen['precision']}), "
            f"{chosen['threads']} threads")


def batch_dependence_warning(what: str) -> str:
    """Why ``what`` (merged shards, the Ray engine's output) may differ from one run with an int8 graph that
    quantises activations with one scale per batch (an export from before per-row scales, or optimum's)."""
    return ("warning: this int8 graph quantises activations with one scale per batch (an export from before per-row "
            f"scales, or optimum's), so its tags and scores depend on which documents share a batch; {what} can "
            "differ from one run. Re-export with --int8, or use --precision fp32 (docs/scaling-out.md)")


def _progress(items: Iterable[T]) -> Iterator[T]:
    """A unit counter with rate on stderr (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    yield from tqdm(items, unit="doc", file=sys.stderr, disable=None, mininterval=0.5)


def read_units(inputs: Sequence[Path], fmt: str = "auto") -> Iterator[Document] | Iterator[Record]:
    """Every input's units in order, documents or CoNLL sentences (checked first: :func:`check_inputs`)."""
    return _units(inputs, fmt, check_inputs(inputs, fmt))


def _units(inputs: Sequence[Path], fmt: str, is_tokens: bool) -> Iterator[Document] | Iterator[Record]:
    if is_tokens:
        return itertools.chain.from_iterable(iter_token_sentences(path) for path in inputs)
    documents = itertools.chain.from_iterable(iter_documents(path, fmt) for path in inputs)
    return unique_ids(documents) if any(path.is_dir() for path in inputs) else documents  # folders: ids are paths


def predict_files(
    inputs: Sequence[Path],
    model_dir: Path,
    out_path: Path,
    config: InferConfig | None = None,
    *,
    fmt: str = "auto",
    output_format: str = "auto",
    shard: ShardSpec | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = False,
) -> LocalRun:
    """``offline-ner predict``: tag ``inputs`` (documents or CoNLL sentences) with the model in ``model_dir``.

    Args:
        inputs: files, folders of .txt files, or ``-`` (stdin).
        model_dir: an export folder (``offline-ner export``, or optimum's).
        out_path: the output file (``-``: stdout); written only when every input was read.
        config: device, precision, threads, decoding.
        fmt: the input format (``auto``: detected from the content).
        output_format: ``auto`` (conll for CoNLL input, else jsonl) or one of ``PREDICTION_FORMATS``.
        shard: run only this shard of the units and write ``<out_path>.shard.json`` beside the output.
        on_start: called with the engine's choices once the model is loaded, before any unit is read.
        progress: count the units on stderr (when it is a terminal).

    Returns:
        What the engine chose, its throughput, and the shard manifest when ``shard`` was given.

    Raises:
        EngineInputError: inputs the local engine does not read, ``conll`` output for documents, a shard
            written to stdout or in a format that is not one unit per line(s).
        DataError: a malformed input (file and line).
        InferError, ModelNotFoundError, LabelFilesError: the model folder cannot be used.
    """
    is_tokens = check_inputs(inputs, fmt)
    out_fmt = check_output_format(output_format, is_tokens)
    if shard is not None and str(out_path) == "-":
        raise EngineInputError("--shard needs an output file (its manifest goes beside it), not '-'")
    if shard is not None and out_fmt not in LINE_FORMATS:
        raise EngineInputError(f"--shard writes line formats ({', '.join(LINE_FORMATS)}), not {out_fmt}")
    engine = NerEngine(model_dir, config or InferConfig())
    chosen = engine.describe()
    if on_start is not None:
        on_start(chosen)
    run = ShardRun(shard, out_path, "conll" if out_fmt == "conll" else "jsonl") if shard is not None else None
    version = f"offline-ner {model_dir.name} {chosen['precision']}"
    wrap: Callable[[Iterable[Any]], Iterator[Any]] = _progress if progress else iter
    with atomic_writer(out_path, open_mode(out_fmt)) as handle:
        units = _units(inputs, fmt, is_tokens)
        selected = wrap(run.select(units) if run is not None else units)
        kept, fed = itertools.tee(selected)
        if is_tokens:
            tags = engine.predict_tokens(record.tokens for record in fed)
            write_sentences(handle, out_fmt, zip(kept, tags), version)
        else:
            entities = engine.predict_stream(doc.text for doc in fed)
            write_documents(handle, out_fmt, zip(kept, entities), version)
    manifest = run.finish() if run is not None else None
    return LocalRun(out_path, out_fmt, chosen, engine.stats, manifest)


def merge_files(shards: Sequence[Path], inputs: Sequence[Path], out_path: Path, fmt: str = "auto") -> MergeReport:
    """``offline-ner predict-merge``: the shards' outputs joined into what one unsharded run writes, byte for byte.

    Raises:
        ShardError: the shards do not cover the input exactly once (nothing is written).
        EngineInputError, DataError: as for :func:`predict_files`.
    """
    return merge_shards(read_units(inputs, fmt), shards, out_path)
