"""Plain text: decode leniently, split into sentences, tokenise with character offsets. Pure, except the reader.

Tokenisation follows CoNLL-2003's conventions closely enough for NER: punctuation is its own token, acronyms
like ``U.S.`` and numbers like ``1,000.5`` stay whole, hyphenated words and apostrophes inside words stay whole.
Every token carries ``(start, end)`` with ``text[start:end] == token``.

Example::

    for doc in iter_text_folder("bbc/"):
        for record in sentence_records(doc):
            print(record.id, record.tokens, record.offsets)
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from pathlib import Path

from offline_ner.data.records import Document, Record
from offline_ner.errors import DataError

TOKEN_PATTERN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # acronyms: U.S., U.K.
    r"|\d+(?:[.,:/]\d+)*"  # numbers, times, dates: 1,000.5 10:30 12/05
    r"|\w+(?:[-'’&]\w+)*"  # words, hyphenated words, O'Neill, AT&T
    r"|[^\w\s]",  # any other single symbol
)
# words after which a full stop does not end a sentence
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp", "gen", "col", "lt",
    "sgt", "rev", "gov", "sen", "rep", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "mt", "ft",
})
SENTENCE_END = re.compile(r"[.!?]+[\"'’”)\]]*(?=\s)")
MAX_SENTENCE_TOKENS = 128  # longer sentences become several records: keeps LLM prompts and model windows short


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8, falling back to Windows-1252 then Latin-1; returns ``(text, encoding_used)``.

    Old news archives mix encodings: one stray Latin-1 byte must not make an article unreadable. A leading UTF-8
    byte-order mark is dropped, as by every reader (:mod:`offline_ner.data.lines`).
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def tokenize(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """Tokens of ``text`` as ``(token, start, end)``, offsets shifted by ``offset``."""
    return [(m.group(), m.start() + offset, m.end() + offset) for m in TOKEN_PATTERN.finditer(text)]


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    if text[match.start()] != ".":
        return True
    word = re.search(r"(\w+)$", text[: match.start()])
    if word is None:
        return True
    previous = word.group(1)
    is_initial = len(previous) == 1 and previous.isupper()
    return previous.lower() not in ABBREVIATIONS and not is_initial


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence character spans: lines are split first (titles, paragraphs), then at sentence-final punctuation."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_text, base, start = line.group(), line.start(), 0
        for match in SENTENCE_END.finditer(line_text):
            if _ends_sentence(line_text, match):
                spans.append((base + start, base + match.end()))
                start = match.end()
        spans.append((base + start, base + len(line_text)))
    trimmed = []
    for start, end in spans:
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            trimmed.append((start + lead, start + lead + len(stripped)))
    return trimmed


def sentence_records(document: Document, max_tokens: int = MAX_SENTENCE_TOKENS) -> list[Record]:
    """Unlabelled records, one per sentence (or chunk of ``max_tokens``), offsets relative to the record text.

    ``provenance['char_start']`` is where the record's text starts in the document, so spans map back.
    """
    records = []
    for start, end in split_sentences(document.text):
        tokens = tokenize(document.text[start:end])
        for chunk_start in range(0, len(tokens), max_tokens):
            chunk = tokens[chunk_start : chunk_start + max_tokens]
            first = chunk[0][1]
            records.append(
                Record(
                    id=f"{document.id}:{len(records)}",
                    tokens=tuple(token for token, _, _ in chunk),
                    text=document.text[start + first : start + chunk[-1][2]],
                    offsets=tuple((s - first, e - first) for _, s, e in chunk),
                    source=document.source,
                    provenance={"document": document.id, "char_start": start + first},
                )
            )
    return records


def read_text_file(path: str | os.PathLike[str], doc_id: str | None = None, source: str = "") -> Document:
    """One document from a text file, leniently decoded (see :func:`decode_text`)."""
    path = Path(path)
    try:
        text, _ = decode_text(path.read_bytes())
    except FileNotFoundError as err:
        raise DataError("file not found", path=path) from err
    return Document(id=doc_id or path.stem, text=text.replace("\r\n", "\n"), source=source or path.name)


def iter_text_folder(folder: str | os.PathLike[str], pattern: str = "**/*.txt") -> Iterator[Document]:
    """Documents from every matching file under ``folder``, in sorted path order; ids are relative paths."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder of text files", path=folder)
    paths = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not paths:
        raise DataError(f"no files matching {pattern!r}", path=folder)
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        yield read_text_file(path, doc_id=relative.removesuffix(".txt"), source=f"{folder.name}/{relative}")
