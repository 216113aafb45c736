"""CoNLL column files: read (2 or 4 columns, optional -DOCSTART-, blank-line separated) and write.

The token is the first column and the IOB2 tag the last; the middle columns (POS, chunk) are ignored. Every
sentence in one file must have the same column count. Errors name the file and the 1-based line.

Example::

    for record in iter_conll("train.txt"):
        print(record.id, record.tokens, record.tags)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from offline_ner._fs import atomic_writer
from offline_ner.data.iob2 import is_valid_tag, unknown_tag_message
from offline_ner.data.lines import STDIN_NAME, excerpt, input_stem, is_stdin, iter_utf8_lines
from offline_ner.data.records import Record
from offline_ner.errors import DataError

ALLOWED_COLUMN_COUNTS = (1, 2, 3, 4)


def iter_conll(
    path: str | os.PathLike[str],
    *,
    labelled: bool = True,
    labels: Iterable[str] | None = None,
    source: str | None = None,
) -> Iterator[Record]:
    """Stream the sentences of a CoNLL file as records with ids ``<file stem>:<sentence index>``.

    Args:
        path: the file.
        labelled: if True the last column is the IOB2 tag (>= 2 columns); if False every line holds
            one token in its first column and records carry no tags.
        labels: if given, tags outside this set are an error (e.g. a model's label set).
        source: the records' ``source``; defaults to the file name.

    Raises:
        DataError: wrong or inconsistent column count, unknown tag, empty file, bad encoding.
    """
    path = Path(path)
    allowed = set(labels) if labels is not None else None
    stem = input_stem(path)
    source = source if source is not None else (STDIN_NAME if is_stdin(path) else path.name)
    columns: int | None = None
    tokens: list[str] = []
    tags: list[str] = []
    index = 0
    try:
        for line_no, line in iter_utf8_lines(path):
            fields = line.split()
            if not fields:
                if tokens:
                    yield Record(f"{stem}:{index}", tuple(tokens), tuple(tags) if labelled else None, source=source)
                    index += 1
                    tokens, tags = [], []
                continue
            if fields[0] == "-DOCSTART-":
                continue
            if columns is None:
                columns = len(fields)
                if labelled and columns < 2 or columns not in ALLOWED_COLUMN_COUNTS:
                    expected = "2 to 4 columns (token ... tag)" if labelled else "1 to 4 columns"
                    raise DataError(f"expected {expected}, found {columns}", path=path, line=line_no)
            elif len(fields) != columns:
                raise DataError(
                    f"expected {columns} columns like the lines before, found {len(fields)}: {excerpt(line)}",
                    path=path,
                    line=line_no,
                )
            tokens.append(fields[0])
            if labelled:
                tag = fields[-1]
                if not is_valid_tag(tag):
                    raise DataError(f"unknown tag {excerpt(tag)}; expected O, B-TYPE or I-TYPE", path=path, line=line_no)
                if allowed is not None and tag not in allowed:
                    raise DataError(unknown_tag_message(tag, allowed), path=path, line=line_no)
                tags.append(tag)
    except FileNotFoundError as err:
        raise DataError("file not found", path=path) from err
    except IsADirectoryError as err:
        raise DataError("is a directory, expected a CoNLL file", path=path) from err
    if tokens:
        yield Record(f"{stem}:{index}", tuple(tokens), tuple(tags) if labelled else None, source=source)
        index += 1
    if index == 0:
        raise DataError("no sentences found (empty file?)", path=path)


def read_conll(path: str | os.PathLike[str], **kwargs: object) -> list[Record]:
    """All sentences of a CoNLL file; see :func:`iter_conll` for arguments and errors."""
    return list(iter_conll(path, **kwargs))  # type: ignore[arg-type]


def conll_token(record: Record, index: int) -> str:
    """Token ``index`` of ``record`` as a CoNLL column: a token that is empty or holds whitespace would not read
    back as one token (CoNLL has no escape for either), so it is refused, naming the record.

    Raises:
        DataError: the token cannot be a CoNLL column (the caller, who knows the input, names its file).
    """
    token = record.tokens[index]
    if not token or any(char.isspace() for char in token) or token == "-DOCSTART-":
        what = "is empty" if not token else "is -DOCSTART-" if token == "-DOCSTART-" else "holds whitespace"
        raise DataError(f"record {excerpt(record.id)}: token {index + 1} {excerpt(token)} {what}, which CoNLL "
                        "cannot write so that it reads back; write jsonl instead")
    return token


def format_conll(records: Iterable[Record]) -> Iterator[str]:
    """CoNLL text, two columns (token, tag), one blank line after each sentence (tokens: :func:`conll_token`)."""
    for record in records:
        if record.tags is None:
            raise DataError(f"record {excerpt(record.id)} has no tags to write as CoNLL")
        for k, tag in enumerate(record.tags):
            yield f"{conll_token(record, k)} {tag}\n"
        yield "\n"


def format_conll_with_gold(pairs: Iterable[tuple[Record, Sequence[str]]]) -> Iterator[str]:
    """CoNLL text for predicted tags: ``token gold predicted`` when the record carries gold tags (conlleval's
    layout: gold column before the predicted one), else ``token predicted``; a blank line after each sentence."""
    for record, predicted in pairs:
        gold = record.tags if record.tags is not None else None
        for k, (_, tag) in enumerate(zip(record.tokens, predicted)):
            token = conll_token(record, k)
            yield f"{token} {gold[k]} {tag}\n" if gold is not None else f"{token} {tag}\n"
        yield "\n"


def write_conll(records: Iterable[Record], path: str | os.PathLike[str]) -> None:
    """Write labelled records as a two-column CoNLL file, atomically."""
    with atomic_writer(path) as handle:
        handle.writelines(format_conll(records))
