"""Which inputs each engine reads, checked before a model loads or a cluster starts: one rule set for the local
engine, Ray and Spark.

The local engine reads text, JSONL and CoNLL (``-`` is stdin); Ray reads text, JSONL and Parquet files
(``id`` and ``text`` columns), not CoNLL sentences; Spark takes a DataFrame with the same two columns. A format
is judged by content (``offline_ner.data.formats.detect``), so detection reads the start of each input here.
What no engine reads is a :class:`~offline_ner.errors.DataError` (exit 4); what the chosen engine does not read,
or an output format it cannot write, is an :class:`~offline_ner.errors.EngineInputError` (exit 2). Nothing is
read beyond each input's first bytes.

Example::

    is_tokens = check_inputs([Path("test.conll")])                 # True: CoNLL sentences, tags out
    check_inputs([Path("news.parquet")], engine="ray")             # False: documents, entities out
    check_columns(df.columns, "the DataFrame")                     # Spark
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from offline_ner.data import detect_format
from offline_ner.data.formats import UNIT_FORMATS
from offline_ner.data.lines import is_stdin
from offline_ner.errors import DataError, EngineInputError, InferError

ENGINES = ("local", "ray")  # the engines `predict --engine` runs; Spark is a library adapter (spark_udf.py)
PARQUET_SUFFIXES = (".parquet", ".pq")  # read only by the Ray engine, through pyarrow
DOCUMENT_COLUMNS = ("id", "text")  # what a Parquet file (Ray) or a DataFrame (Spark) must hold
RAY_INSTALL_HINT = "the ray engine needs the [ray] extra: pip install 'offline-ner[ray]' (or from the runtime bundle)"


def is_parquet(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def check_inputs(inputs: Sequence[str | os.PathLike[str]], fmt: str = "auto", *, engine: str = "local") -> bool:
    """Refuse what ``engine`` cannot read; True when the input is CoNLL sentences (tokens), False for documents.

    Raises:
        EngineInputError: no input; Parquet for the local engine; CoNLL for Ray; CoNLL mixed with documents; a
            format predict does not read (Label Studio, DocBin: convert it first).
        DataError: a missing input (Ray: every input must be a file or folder), a Parquet file without
            ``id``/``text`` columns.
        InferError: Parquet input without pyarrow (the [ray] extra).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    paths = list(inputs)
    if not paths:
        raise EngineInputError("give at least one input: a file, a folder of .txt files, or '-' for stdin")
    formats = set()
    for path in paths:
        if engine == "ray" and (is_stdin(path) or not Path(path).exists()):
            raise DataError("input not found", path=path)
        if is_parquet(path):
            if engine != "ray":
                raise EngineInputError("Parquet input is read by the Ray engine: add --engine ray (extra [ray])")
            check_columns(_parquet_columns(Path(path)), str(path))
            continue
        found = detect_format(path) if fmt == "auto" else fmt
        if engine == "ray" and found == "conll":
            raise EngineInputError(f"{path}: the ray engine reads text, JSONL and Parquet documents, not CoNLL "
                                   "sentences; use the default engine (or --shard) for token input")
        formats.add(found)
    unreadable = sorted(formats - set(UNIT_FORMATS))
    if unreadable:
        raise EngineInputError(
            f"predict reads text, JSONL or CoNLL, and the input looks like {unreadable[0]}; convert it with "
            "`offline-ner convert`, or name the format with --input-format"
        )
    if "conll" in formats and len(formats) > 1:
        raise EngineInputError("CoNLL (token) input cannot be mixed with text or JSONL input in one run")
    return formats == {"conll"}


def check_output_format(output_format: str, is_tokens: bool) -> str:
    """The output format to write (``auto``: conll for CoNLL input, else jsonl), refused when the input lacks tokens.

    Raises:
        EngineInputError: ``conll`` output asked for document input.
    """
    fmt = ("conll" if is_tokens else "jsonl") if output_format == "auto" else output_format
    if fmt == "conll" and not is_tokens:
        raise EngineInputError("--format conll needs CoNLL (pre-tokenised) input; use jsonl, hf or spacy-jsonl")
    return fmt


def check_columns(columns: Iterable[str], where: str) -> None:
    """Refuse a Parquet file or DataFrame without the ``id`` and ``text`` columns documents need.

    Raises:
        DataError: a column is missing (named).
    """
    missing = sorted(set(DOCUMENT_COLUMNS) - set(columns))
    if missing:
        raise DataError(f"documents need columns 'id' and 'text'; missing {missing}", path=where)


def _parquet_columns(path: Path) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise InferError(RAY_INSTALL_HINT) from err
    try:
        return list(pq.read_schema(path).names)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"not a readable Parquet file ({err})", path=path) from err
