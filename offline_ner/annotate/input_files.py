"""Read what is to be annotated: CoNLL files, JSONL record files, folders of plain-text articles.

Gold tags, when the input has them, are kept aside for QA: the records handed to the LLM carry tokens only, and
the annotation folder's tags are the LLM's. Each input's sha256 goes into the run's provenance.

Example::

    source = load_inputs([Path("conll2003/valid.txt")])
    source.records[0].tags       # None
    source.gold[source.records[0].id]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from offline_ner._fs import sha256_file
from offline_ner.data import Record, iter_text_folder, read_records, sentence_records
from offline_ner.data.text import MAX_SENTENCE_TOKENS
from offline_ner.errors import DataError


@dataclass(frozen=True)
class Inputs:
    """Unlabelled records in input order, gold tags by record id, and a digest per input file."""

    records: tuple[Record, ...]
    gold: dict[str, tuple[str, ...]]
    digests: tuple[dict[str, str], ...]


def input_digests(path: Path) -> list[dict[str, str]]:
    """``{"path", "sha256"}`` for a file, or for every ``.txt`` file of a folder (relative names)."""
    if path.is_dir():
        return [
            {"path": f"{path.name}/{p.relative_to(path).as_posix()}", "sha256": sha256_file(p)}
            for p in sorted(path.glob("**/*.txt"))
            if p.is_file()
        ]
    return [{"path": path.name, "sha256": sha256_file(path)}]


def _read(path: Path, max_tokens: int) -> list[Record]:
    if path.is_dir():
        return [r for doc in iter_text_folder(path) for r in sentence_records(doc, max_tokens=max_tokens)]
    return read_records(path)


def load_inputs(paths: Sequence[Path], *, max_tokens: int = MAX_SENTENCE_TOKENS) -> Inputs:
    """Records from every path, tags moved aside as gold.

    Raises:
        DataError: unreadable input, or two records with one id (ids key the output and the QA).
    """
    records: list[Record] = []
    gold: dict[str, tuple[str, ...]] = {}
    digests: list[dict[str, str]] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise DataError("input not found", path=path)
        digests += input_digests(path)
        for record in _read(path, max_tokens):
            if record.tags is not None:
                gold[record.id] = record.tags
            records.append(Record(**{**record.__dict__, "tags": None}))
    if len({r.id for r in records}) != len(records):
        raise DataError("two inputs produce the same record ids; give the input files distinct names")
    return Inputs(records=tuple(records), gold=gold, digests=tuple(digests))
