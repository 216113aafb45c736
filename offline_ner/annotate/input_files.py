"""Read what is to be annotated: CoNLL files, JSONL record files, folders of plain-text articles.

Gold tags, when the input has them, are kept aside for QA: the records handed to the LLM carry tokens only, and
the annotation folder's tags are the LLM's. Each input's sha256 goes into the run's provenance.

The records themselves are not kept: :func:`load_inputs` reads the files once to check them (ids, digests, count)
and :attr:`Inputs.records` reads them again on every pass (plan, send, write), so a run's memory does not grow with
its number of sentences. Each pass checks that it reads the records the first one read.

Example::

    source = load_inputs([Path("conll2003/valid.txt")])
    next(iter(source.records)).tags      # None
    source.gold["valid:0"]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from offline_ner._fs import sha256_file
from offline_ner.data import Record, iter_records, iter_text_folder, sentence_records
from offline_ner.data.text import MAX_SENTENCE_TOKENS
from offline_ner.errors import DataError

FINGERPRINT_BYTES = 8  # blake2b digest size per record: what a later pass compares, and what finds repeated ids


class Records(Protocol):
    """Records that can be counted and read in order, as often as needed: a tuple, or :class:`InputRecords`."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Record]: ...


def _fingerprint(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=FINGERPRINT_BYTES).digest()


def _record_fingerprint(record: Record) -> bytes:
    """What a later pass must read again for a record: its id and tokens."""
    return _fingerprint(repr((record.id, record.tokens)))


class InputRecords:
    """The input records without their tags, read from the files again on every iteration.

    Holds 8 bytes a record (a fingerprint of its id and tokens), so a later pass that reads other records (a file
    edited during the run) fails instead of labelling sentences the plan never saw.
    """

    def __init__(self, paths: Sequence[Path], max_tokens: int, fingerprints: bytearray) -> None:
        self._paths, self._max_tokens, self._fingerprints = tuple(paths), max_tokens, fingerprints

    def __len__(self) -> int:
        return len(self._fingerprints) // FINGERPRINT_BYTES

    def __iter__(self) -> Iterator[Record]:
        index = 0
        for path in self._paths:
            for record in _read(path, self._max_tokens):
                expected = self._fingerprints[index * FINGERPRINT_BYTES : (index + 1) * FINGERPRINT_BYTES]
                if _record_fingerprint(record) != expected:
                    raise DataError(f"record {record.id} differs from the first reading: the input changed during "
                                    "the run; run again on a file nobody writes to", path=path)  # fmt: skip
                index += 1
                yield Record(**{**record.__dict__, "tags": None})
        if index != len(self):
            raise DataError(f"{index} records where the first reading found {len(self)}: the input changed during "
                            "the run; run again on a file nobody writes to", path=self._paths[-1])  # fmt: skip


class CompactTags(Mapping[str, tuple[str, ...]]):
    """Gold tags by record id, each sequence kept as one JSON string: a tenth of the memory of tuples of str."""

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
    """Unlabelled records in input order (read again on each pass), gold tags by record id, a digest per file."""

    records: Records
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
    """Check every path once (ids, digests, count) and move tags aside as gold; the records are read again from the
    files whenever :attr:`Inputs.records` is iterated.

    Raises:
        DataError: unreadable input, or two records with one id (ids key the output and the QA).
    """
    paths = [Path(path) for path in paths]
    gold = CompactTags()
    digests: list[dict[str, str]] = []
    fingerprints = bytearray()
    id_hashes = bytearray()  # 8 bytes of blake2b per id: a set of ids would keep an object per record
    for path in paths:
        if not path.exists():
            raise DataError("input not found", path=path)
        digests += input_digests(path)
        for record in _read(path, max_tokens):
            id_hashes += _fingerprint(record.id)
            fingerprints += _record_fingerprint(record)
            if record.tags is not None:
                gold[record.id] = record.tags
    repeated = _first_repeated_id(id_hashes, paths, max_tokens)
    if repeated is not None:
        raise DataError(f"record id {repeated[0]} occurs twice: two inputs produce the same record ids; give the "
                        "input files distinct names", path=repeated[1])  # fmt: skip
    return Inputs(records=InputRecords(paths, max_tokens, fingerprints), gold=gold, digests=tuple(digests))


def _first_repeated_id(id_hashes: bytearray, paths: Sequence[Path], max_tokens: int) -> tuple[str, Path] | None:
    """The first id that occurs a second time, and the input it occurs in: equal hashes are found by numpy, then
    the ids themselves compared (one more pass over the inputs, only when two hashes are equal)."""
    hashes = np.frombuffer(id_hashes, dtype=np.uint64)
    values, counts = np.unique(hashes, return_counts=True)
    suspects = set(values[counts > 1].tolist())
    if not suspects:
        return None
    seen: set[str] = set()
    index = 0
    for path in paths:
        for record in _read(path, max_tokens):
            if int(hashes[index]) in suspects:
                if record.id in seen:
                    return record.id, path
                seen.add(record.id)
            index += 1
    return None
