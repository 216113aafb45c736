"""Which format a file (or standard input) holds, judged by its first bytes, not by its name.

CoNLL-2003 ships as ``train.txt``: read by extension, its 200,000 lines became plain-text documents. The rules,
in order, on the first 64 KiB:

- a zlib stream holding msgpack: a spaCy DocBin (``spacy``);
- first non-blank character ``[``: a JSON array of Label Studio tasks (``label-studio``);
- first non-blank character ``{``: JSON lines (``jsonl``);
- a ``-DOCSTART-`` line, or a first line and most others of 2 to 4 whitespace-separated columns ending in an IOB2
  tag (``EU NNP B-NP B-ORG``): CoNLL (``conll``);
- at most one word per line and a CoNLL suffix (``.conll``, ``.iob``...): token-only CoNLL;
- anything else: plain text, one document per line (``text``). A folder is a folder of ``.txt`` documents.

Example::

    detect_format(Path("conll2003/train.txt"))      # 'conll'
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from offline_ner.data.iob2 import is_valid_tag
from offline_ner.data.lines import BOM, is_stdin, peek_input

# every input format a reader exists for; "auto" asks for detection
INPUT_FORMATS = ("text", "jsonl", "conll", "label-studio", "spacy")
CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".iob2", ".bio")
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 200


def _is_docbin(head: bytes) -> bool:
    if len(head) < 2 or head[0] & 0x0F != 8 or (head[0] * 256 + head[1]) % 31:  # zlib header (RFC 1950)
        return False
    try:
        body = zlib.decompressobj().decompress(head, 64)
    except zlib.error:
        return False
    return bool(body) and 0x80 <= body[0] <= 0x8F  # a msgpack map (DocBin's to_bytes is a dict)


def _is_tagged_row(fields: list[str]) -> bool:
    return 2 <= len(fields) <= 4 and is_valid_tag(fields[-1])


def _looks_like_conll(lines: list[str]) -> bool:
    """A ``-DOCSTART-`` line, or a first line and most others of token columns ending in a tag (a malformed line
    further down stays CoNLL, so the CoNLL reader names it)."""
    rows = [line.split() for line in lines if line.strip()]
    if any(fields[0] == "-DOCSTART-" for fields in rows):
        return True
    tagged = sum(map(_is_tagged_row, rows))
    return bool(rows) and _is_tagged_row(rows[0]) and tagged * 2 > len(rows)


def _one_token_per_line(lines: list[str]) -> bool:
    return all(len(line.split()) <= 1 for line in lines)


def sniff_format(head: bytes, name: str = "") -> str:
    """The format of content starting with ``head`` (``name``: a file name, used only for token-only CoNLL)."""
    if _is_docbin(head):
        return "spacy"
    text = head.decode("utf-8", errors="replace").removeprefix(BOM)
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "label-studio"
    if stripped.startswith("{"):
        return "jsonl"
    lines = text.splitlines()
    if len(head) >= SNIFF_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:SNIFF_LINES]
    if _looks_like_conll(lines):
        return "conll"
    if os.path.splitext(name)[1].lower() in CONLL_SUFFIXES and _one_token_per_line(lines):
        return "conll"
    return "text"


def detect_format(path: str | os.PathLike[str]) -> str:
    """One of :data:`INPUT_FORMATS` for a file, standard input (``-``) or a folder (``text``).

    Standard input is peeked, not consumed: the reader chosen still sees every byte.
    """
    if not is_stdin(path) and Path(path).is_dir():
        return "text"
    if not is_stdin(path) and not Path(path).is_file():
        return "text"  # the reader reports the missing file
    return sniff_format(peek_input(path, SNIFF_BYTES), "" if is_stdin(path) else os.fspath(path))
