"""Inference inputs, streamed: text lines, folders of .txt files, JSONL documents, CoNLL sentences; ``-`` is stdin.

Readers yield one document (or sentence) at a time and writers take iterators, so the CLI's memory stays flat on
inputs of any size. Plain text is one document per line (blank lines are empty documents, kept so output lines
match input lines) or one document per ``.txt`` file in a folder. JSONL is ``{"id": ..., "text": ...}`` per line;
a bad line raises :class:`DataError` naming the file and line. CoNLL input is pre-tokenised (first column); when
its last column holds tags they are kept as gold, so the output can carry them beside the predictions. The
format is detected from the content (``offline_ner.data.formats.detect``), not from the file name.

Example::

    for doc in iter_documents(Path("news.jsonl")):
        print(doc.id, len(doc.text))
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from offline_ner.data import (
    Document,
    Record,
    detect_format,
    is_valid_tag,
    iter_conll,
    iter_json_lines,
    iter_text_folder,
)
from offline_ner.data.formats import UNIT_FORMATS
from offline_ner.data.lines import BOM, input_stem, is_stdin, peek_input
from offline_ner.data.text import iter_text_lines
from offline_ner.errors import DataError
from offline_ner.infer.entities import Entity

FORMATS = ("auto", *UNIT_FORMATS)  # detection may find others (Label Studio, DocBin): predict refuses them


def parse_document(obj: object, default_id: str, **where: Any) -> Document:
    """A document from one decoded JSONL object ``{"id": str|int (optional), "text": str}``."""
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object with 'text', found {type(obj).__name__}", **where)
    text = obj.get("text")
    if not isinstance(text, str):
        raise DataError("'text' must be a string" if "text" in obj else "missing field 'text'", **where)
    doc_id = obj.get("id", default_id)
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise DataError("'id' must be a string or an integer", **where)
    return Document(id=str(doc_id), text=text, source=str(where.get("path", "")))


def iter_jsonl_documents(path: Path) -> Iterator[Document]:
    """Stream documents from a JSONL file; blank lines are skipped, every other bad line is an error."""
    for obj, where in iter_json_lines(path):
        yield parse_document(obj, default_id=f"{input_stem(path)}:{where['line']}", **where)


def iter_documents(path: str | os.PathLike[str], fmt: str = "auto") -> Iterator[Document]:
    """Documents from a text file, a folder of .txt files, or a JSONL file.

    Raises:
        DataError: the path is missing, holds no document (an empty file, like a folder without .txt files and
            an empty CoNLL file), or a JSONL line is malformed (file and line named).
    """
    path = Path(path)
    if not is_stdin(path) and not path.exists():
        raise DataError("input not found", path=path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if not is_stdin(path) and path.is_dir():
        yield from iter_text_folder(path)
        return
    if fmt == "jsonl":
        docs = iter_jsonl_documents(path)
    elif fmt == "text":
        docs = iter_text_lines(path)
    else:
        raise ValueError(f"iter_documents reads text and jsonl, not {fmt!r}; use iter_conll for token input")
    count = 0
    for count, doc in enumerate(docs, start=1):
        yield doc
    if count == 0:
        raise DataError("no documents found (empty file?)", path=path)


def _has_tags(path: str | os.PathLike[str]) -> bool:
    """Whether a CoNLL input's first token line ends in an IOB2 tag after 1-3 other columns: then the tags are
    gold (the reader checks every other line against the same column count)."""
    try:
        head = peek_input(path).decode("utf-8", "replace").removeprefix(BOM)
    except OSError:
        return False  # the reader reports it
    for line in head.splitlines():
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            return 2 <= len(fields) <= 4 and is_valid_tag(fields[-1])
    return False


def iter_token_sentences(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Pre-tokenised sentences from a CoNLL file or stdin (tokens from the first column); when the last column
    holds IOB2 tags the records carry them (gold, for a gold column in the output), else no tags."""
    yield from iter_conll(path, labelled=_has_tags(path))


def write_entities_jsonl(handle: IO[str], items: Iterable[tuple[Document, Iterable[Entity]]]) -> int:
    """One JSON line per document: ``{"id", "entities": [{"type", "start", "end", "text", "score"}]}``."""
    return write_entity_lines(handle, ((doc.id, map(Entity.to_json, entities)) for doc, entities in items))


def write_entity_lines(handle: IO[str], rows: Iterable[tuple[str, Iterable[dict[str, Any]]]]) -> int:
    """:func:`write_entities_jsonl`'s lines from ``(id, entities as JSON objects)`` rows, as the Ray and Spark
    engines hand them back; returns the number of documents.

    A line is written an entity at a time (the bytes ``json.dumps({"id": ..., "entities": [...]})`` gives), so
    the entities of a document of any size (:meth:`~offline_ner.infer.NerEngine.predict_stream`) are never all
    held at once.
    """
    count = 0
    for doc_id, entities in rows:
        handle.write(f'{{"id": {json.dumps(doc_id, ensure_ascii=False)}, "entities": [')
        separator = ""
        for entity in entities:
            handle.write(separator + json.dumps(entity, ensure_ascii=False))
            separator = ", "
        handle.write("]}\n")
        count += 1
    return count
