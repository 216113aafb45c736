"""Read what is to be annotated: CoNLL files, JSONL record files, folders of plain-text articles.

Gold tags, when the input has them, are kept aside for QA: the records handed to the LLM carry tokens only, and
the annotation folder's tags are the LLM's. Each input's sha256 goes into the run's provenance.

Example::

    source = load_inputs([Path("conll2003/valid.txt")])
    source.records[0].tags       # None
    source.gold[source.records[0].id]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from offline_ner._fs import sha256_file
from offline_ner.data import Record, iter_records, iter_text_folder, sentence_records
from offline_ner.data.jsonl import dumps_record, parse_record
from offline_ner.data.text import MAX_SENTENCE_TOKENS
from offline_ner.errors import DataError


class CompactRecords(Sequence[Record]):
    """Records kept as their JSONL lines and rebuilt on access: a tenth of the memory of ``Record`` objects, so a
    run over millions of sentences holds a line per sentence, not an object graph."""

    def __init__(self, records: Iterator[Record] | Sequence[Record] = ()) -> None:
        self._lines: list[str] = [dumps_record(record) for record in records]

    def append(self, record: Record) -> None:
        self._lines.append(dumps_record(record))

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        if isinstance(index, slice):
            return [parse_record(json.loads(line)) for line in self._lines[index]]
        return parse_record(json.loads(self._lines[index]))

    def __iter__(self) -> Iterator[Record]:
        return (parse_record(json.loads(line)) for line in self._lines)


class CompactTags(Mapping[str, tuple[str, ...]]):
    """Gold tags by record id, each sequence kept as one JSON string (the same saving as :class:`CompactRecords`)."""

    def __init__(self) -> None:
        self._tags: dict[str, str] = {}

    def __setitem__(self, record_id: str, tags: Sequence[str]) -> None:
        self._tags[record_id] = json.dumps(list(tags), ensure_ascii=False)

    def __getitem__(self, record_id: str) -> tuple[str, ...]:
        return tuple(json.loads(self._tags[record_id]))

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tags)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._tags


@dataclass(frozen=True)
class Inputs:
    """Unlabelled records in input order, gold tags by record id, and a digest per input file."""

    records: Sequence[Record]
    gold: Mapping[str, tuple[str, ...]]
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


def _read(path: Path, max_tokens: int) -> Iterator[Record]:
    if path.is_dir():
        return (r for doc in iter_text_folder(path) for r in sentence_records(doc, max_tokens=max_tokens))
    return iter_records(path)


def load_inputs(paths: Sequence[Path], *, max_tokens: int = MAX_SENTENCE_TOKENS) -> Inputs:
    """Records from every path, tags moved aside as gold.

    Raises:
        DataError: unreadable input, or two records with one id (ids key the output and the QA).
    """
    records = CompactRecords()
    gold = CompactTags()
    digests: list[dict[str, str]] = []
    id_hashes = bytearray()  # 8 bytes of blake2b per id: a set of ids would keep an object per record
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise DataError("input not found", path=path)
        digests += input_digests(path)
        for record in _read(path, max_tokens):
            id_hashes += hashlib.blake2b(record.id.encode("utf-8"), digest_size=8).digest()
            if record.tags is not None:
                gold[record.id] = record.tags
            records.append(Record(**{**record.__dict__, "tags": None}))
    if _repeated_ids(id_hashes, records):
        raise DataError("two inputs produce the same record ids; give the input files distinct names")
    return Inputs(records=records, gold=gold, digests=tuple(digests))


def _repeated_ids(id_hashes: bytearray, records: Sequence[Record]) -> bool:
    """Whether two records share an id: equal hashes are found by numpy, then the ids themselves compared."""
    hashes = np.frombuffer(bytes(id_hashes), dtype=np.uint64)
    values, counts = np.unique(hashes, return_counts=True)
    suspects = set(values[counts > 1].tolist())
    if not suspects:
        return False
    ids = [r.id for r, h in zip(records, hashes.tolist()) if h in suspects]
    return len(set(ids)) != len(ids)
