"""Pick a reader by what a path is: ``.jsonl`` → JSONL records, a folder → plain-text documents, else CoNLL.

Example::

    records = read_records("gold.conll")      # or "distilled.jsonl"
"""

from __future__ import annotations

import os
from pathlib import Path

from offline_ner.data.conll import read_conll
from offline_ner.data.jsonl import read_jsonl
from offline_ner.data.records import Record
from offline_ner.data.text import iter_text_folder, sentence_records

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """Records from a JSONL file, a CoNLL file, or (unlabelled) a folder of ``.txt`` documents."""
    path = Path(path)
    if path.is_dir():
        return [record for doc in iter_text_folder(path) for record in sentence_records(doc)]
    if path.suffix.lower() in JSONL_SUFFIXES:
        return read_jsonl(path)
    return read_conll(path)
