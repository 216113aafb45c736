"""The click options several commands share, each defined once (pip-tools' ``scripts/options.py``).

``--decode`` (predict, evaluate), ``--store`` (bundle import/ls, train, experiment), ``--trust-store`` (bundle,
trust), predict's and predict-merge's ``--input``, ``--input-format`` and ``-o``, and predict's engine and Ray
options as two stacked groups. Not ``--json``: every command has it, so it lives with the one error handler in
``_common``. Importing this module loads :mod:`offline_ner.data` and ``offline_ner.infer.config`` (for the
choices), nothing heavy.

Example::

    @click.command()
    @store_option
    @trust_store_option
    def verify(store: Path, trust_store: Path) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from offline_ner.data.formats import PREDICTION_FORMATS, UNIT_FORMATS
from offline_ner.data.iob2 import DECODERS, DEFAULT_DECODER
from offline_ner.infer.config import ACTOR_THREADS, BLOCK_CHARS, DEVICES, PRECISIONS, InferConfig
from offline_ner.infer.input_checks import ENGINES

if TYPE_CHECKING:
    from offline_ner.infer.shard import ShardSpec

F = TypeVar("F", bound=Callable[..., Any])
_ENGINE_DEFAULTS = InferConfig()

DEFAULT_TRUST_STORE = Path("~/.config/offline-ner/trust.json")
DEFAULT_STORE = Path("~/.local/share/offline-ner/store")

decode_option = click.option(
    "--decode", type=click.Choice(DECODERS), default=DEFAULT_DECODER, show_default=True,
    help="viterbi: each sentence's best-scoring valid IOB2 tags; argmax: each word's own best label, which can "
    "leave an I- tag with no B- before it.",
)

store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OFFLINE_NER_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="Content store folder (env OFFLINE_NER_STORE).",
)


def signing_keys_option(help_text: str = "Private key file (repeatable).") -> Callable[[F], F]:
    """``--key`` (repeatable, required): the private keys that sign a bundle or a record."""
    return click.option("--key", "key_paths", multiple=True, required=True,
                        type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text)


trust_store_option = click.option(
    "--trust-store",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OFFLINE_NER_TRUST_STORE",
    default=DEFAULT_TRUST_STORE,
    show_default=True,
    help="Trust store file (env OFFLINE_NER_TRUST_STORE).",
)


def inputs_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--input`` (repeatable): files, folders of .txt files, or '-' for stdin."""
    return click.option("--input", "inputs", multiple=True, type=click.Path(path_type=Path), help=help_text)


input_format_option = click.option(
    "--input-format", "input_format", type=click.Choice(["auto", *UNIT_FORMATS]), default="auto",
    show_default=True,
    help="auto: detected from the content (JSON lines, CoNLL columns, else text with one document per line).",
)

# predict and predict-merge read the same inputs and write the same kind of output
output_option = click.option("-o", "--output", "out_path", default=Path("-"), type=click.Path(path_type=Path),
                             show_default=True, help="Output file ('-': stdout).")


def _stacked(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator that applies ``options`` in the order listed (as if written one above the other)."""
    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command
    return apply


# the ONNX Runtime session of predict: device, graph, batch size, threads
engine_options = _stacked(
    click.option("--device", type=click.Choice(DEVICES), default=_ENGINE_DEFAULTS.device, show_default=True),
    click.option("--precision", type=click.Choice(PRECISIONS), default=_ENGINE_DEFAULTS.precision,
                 show_default=True,
                 help="auto: fp16 on CUDA, fp32 on CPU; int8: the exported int8 graph (CPU; its speed depends on "
                 "the CPU)."),
    click.option("--batch-tokens", type=click.IntRange(min=16), default=None, help="Token budget per batch."),
    click.option("--threads", type=click.IntRange(min=1), default=None,
                 help="CPU threads (default: physical cores)."),
)

# where predict runs: this process, or actors on a Ray cluster
ray_options = _stacked(
    click.option(
        "--engine", "engine_name", type=click.Choice(ENGINES), default="local", show_default=True,
        help="local: this process; ray: actors on a Ray cluster (extra [ray]), same output. Under ray, --threads "
        f"is per actor (default {ACTOR_THREADS}).",
    ),
    click.option("--address", default=None,
                 help="Ray cluster to join ('auto': this node's); default: start a local one."),
    click.option("--actors", type=click.IntRange(min=1), default=None,
                 help="Ray actors, one ONNX session each (default: cluster CPUs / threads, or GPUs with --device "
                 "cuda)."),
    click.option("--batch-docs", type=click.IntRange(min=1), default=None,
                 help="Documents per model call of one Ray actor (default: blocks of about "
                 f"{BLOCK_CHARS // 1024}k characters of text)."),
)


onnx_model_option = click.option(
    "--model", "onnx_dir", required=True, type=click.Path(path_type=Path),
    help="Folder from `export`, or from `optimum-cli export onnx --task token-classification`.",
)

output_format_option = click.option(
    "--format", "output_format", type=click.Choice(["auto", *PREDICTION_FORMATS]), default="auto", show_default=True,
    help="auto: conll for CoNLL input, else jsonl. hf: transformers pipeline entities; spacy: a DocBin; "
    "spacy-jsonl: {text, spans}; label-studio: tasks with pre-annotations (docs/formats.md).",
)


def _parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> ShardSpec | None:
    from offline_ner.infer.shard import ShardSpec

    try:
        return None if value is None else ShardSpec.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


shard_option = click.option(
    "--shard", "shard", default=None, metavar="K/N", callback=_parse_shard,
    help="Run only shard K of N (1 <= K <= N, cut by a hash of each document id) and write <output>.shard.json "
    "beside the output; join the shards with `offline-ner predict-merge`.",
)
