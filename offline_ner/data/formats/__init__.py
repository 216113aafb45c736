"""Read records from any supported format (detected from the content, or named), and write them to any.

Input formats (:data:`INPUT_FORMATS`): ``jsonl`` (our records, HF ``tokens``/``ner_tags``, spaCy ``text``/``spans``),
``conll``, ``label-studio`` (a JSON export), ``spacy`` (a DocBin) and ``text`` (one document per line, or a folder
of ``.txt`` files; unlabelled sentence records). ``-`` is standard input. Output formats (:data:`RECORD_FORMATS`):
our JSONL records, CoNLL, Label Studio tasks (pre-annotations), spaCy DocBin and ``{"text", "spans"}`` JSONL.

Example::

    records = read_records("conll2003/train.txt")                 # detected as CoNLL by its content
    write_records(records, "tasks.json", "label-studio")         # for review in Label Studio
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from offline_ner._fs import atomic_writer
from offline_ner.data.char_spans import spans_of_record
from offline_ner.data.conll import format_conll, iter_conll
from offline_ner.data.formats.detect import CONLL_SUFFIXES, INPUT_FORMATS, detect_format, sniff_format
from offline_ner.data.iob2 import unknown_tag_message
from offline_ner.data.jsonl import dumps_record, iter_jsonl
from offline_ner.data.lines import excerpt, is_stdin
from offline_ner.data.records import Record
from offline_ner.errors import DataError

JSONL_SUFFIXES = (".jsonl", ".ndjson")
RECORD_FORMATS = ("jsonl", "conll", "label-studio", "spacy", "spacy-jsonl")
# what inference reads units from (documents or pre-tokenised sentences), and writes predictions as
UNIT_FORMATS = ("text", "jsonl", "conll")
PREDICTION_FORMATS = ("jsonl", "conll", "hf", "spacy", "spacy-jsonl", "label-studio")

__all__ = [
    "CONLL_SUFFIXES",
    "INPUT_FORMATS",
    "JSONL_SUFFIXES",
    "PREDICTION_FORMATS",
    "RECORD_FORMATS",
    "UNIT_FORMATS",
    "detect_format",
    "iter_records",
    "read_records",
    "sniff_format",
    "write_records",
]


def iter_records(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    labels: Sequence[str] | None = None,
    allowed: Collection[str] | None = None,
) -> Iterator[Record]:
    """Records from a file, standard input (``-``) or a folder of ``.txt`` documents, streamed.

    Args:
        fmt: one of :data:`INPUT_FORMATS`, or ``auto`` to detect it from the content.
        labels: label names for HF JSONL whose ``ner_tags`` are integers.
        allowed: the run's label set: a tag outside it is an error (file and line, or record, named), so that a
            mistyped ``I-PRE`` never becomes a class of its own.

    Raises:
        DataError: the input is missing, malformed (file and line, or task, named) or holds no record.
    """
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in INPUT_FORMATS:
        raise ValueError(f"format must be auto or one of {', '.join(INPUT_FORMATS)}, not {fmt!r}")
    if not is_stdin(path) and not Path(path).exists():
        raise DataError("file not found", path=path)
    count = 0
    for count, record in enumerate(_iter_format(path, fmt, labels, allowed), start=1):
        if allowed is not None:  # the line-based readers checked each line; the others are named by record
            unknown = sorted(set(record.tags or ()) - set(allowed))
            if unknown:
                raise DataError(f"record {excerpt(record.id)}: {unknown_tag_message(unknown[0], allowed)}", path=path)
        yield record
    if count == 0:
        raise DataError(f"no records found (empty {fmt} input?)", path=path)


def _iter_format(
    path: str | os.PathLike[str], fmt: str, labels: Sequence[str] | None, allowed: Collection[str] | None
) -> Iterator[Record]:
    from offline_ner.data.text import iter_text_folder, iter_text_lines, sentence_records

    if fmt == "jsonl":
        yield from iter_jsonl(path, labels=labels, allowed=allowed)
    elif fmt == "conll":
        yield from iter_conll(path, labels=allowed)
    elif fmt == "label-studio":
        from offline_ner.data.formats.label_studio import iter_label_studio

        yield from iter_label_studio(path)
    elif fmt == "spacy":
        from offline_ner.data.formats.spacy_docbin import iter_docbin

        yield from iter_docbin(path)
    elif not is_stdin(path) and Path(path).is_dir():
        for doc in iter_text_folder(path):
            yield from sentence_records(doc)
    else:
        for doc in iter_text_lines(path):
            yield from sentence_records(doc)


def read_records(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    labels: Sequence[str] | None = None,
    allowed: Collection[str] | None = None,
) -> list[Record]:
    """All records of an input; see :func:`iter_records`."""
    return list(iter_records(path, fmt, labels=labels, allowed=allowed))


def write_records(records: Iterable[Record], path: str | os.PathLike[str], fmt: str = "jsonl") -> int:
    """Write records atomically (``-``: stdout) in one of :data:`RECORD_FORMATS`; returns how many.

    ``label-studio`` writes the tags as pre-annotations (``predictions``) for review.
    """
    if fmt not in RECORD_FORMATS:
        raise ValueError(f"format must be one of {', '.join(RECORD_FORMATS)}, not {fmt!r}")
    count = 0

    def counted() -> Iterator[Record]:
        nonlocal count
        for record in records:
            count += 1
            yield record

    if fmt == "spacy":
        from offline_ner.data.formats.spacy_docbin import write_docbin

        with atomic_writer(path, "wb") as binary:
            write_docbin(binary, map(spans_of_record, counted()))
        return count
    with atomic_writer(path, "w") as handle:
        if fmt == "jsonl":
            handle.writelines(map(dumps_record, counted()))
        elif fmt == "conll":
            handle.writelines(format_conll(counted()))
        elif fmt == "label-studio":
            from offline_ner.data.formats.label_studio import write_label_studio

            write_label_studio(handle, map(spans_of_record, counted()))
        else:
            from offline_ner.data.formats.spacy_docbin import write_spans_jsonl

            write_spans_jsonl(handle, map(spans_of_record, counted()))
    return count
