"""The durable journal: every finished LLM exchange, keyed by a hash of everything that shaped the request.

SQLite in WAL mode, one row per request key, committed as soon as a reply arrives. A run killed with ``kill -9``
loses at most the requests in flight; the restarted run finds every finished key here and sends nothing for it.
Keys never expire (autolabel's week-long cache expiry re-bills a paused project) and include word order, the
template hash, the schema and the sample index (spacy-llm's cache key ignores word order).

The journal also remembers submitted Batch API jobs, so a batch run resumes from its batch id, and the sentence
embeddings of kNN demonstration retrieval, so a resumed run picks the same demonstrations without embedding again.

Example::

    journal = Journal(Path("run.sqlite"))
    key = request_key(body, template_sha256=template.sha256, sample=0)
    if journal.get(key) is None:
        journal.put(key, {"body": reply_body, ...})
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from offline_ner.errors import AnnotateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (name TEXT PRIMARY KEY, batch_id TEXT NOT NULL, keys TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""
SQL_VARIABLES = 500  # keys per SELECT ... IN (...): under SQLite's default limit of 999 bound variables


def canonical_json_text(value: Any) -> str:
    """One spelling per value as text (str): sorted keys, no spaces, UTF-8 kept; the input of every hash here."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(body: Mapping[str, Any], *, template_sha256: str, sample: int = 0) -> str:
    """sha256 over the request body (model, parameters, messages, schema), the template hash and the sample."""
    material = {"body": body, "template_sha256": template_sha256, "sample": sample}
    return hashlib.sha256(canonical_json_text(material).encode("utf-8")).hexdigest()


class Journal:
    """Thread-safe key → JSON store on SQLite (WAL, synchronous=FULL: a committed reply survives power loss)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise AnnotateError(f"{path}: cannot open the journal ({err}); pass another --journal path") from err
        self._lock = threading.Lock()
        self.path = path

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM exchanges WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM exchanges WHERE key = ?", (key,)).fetchone() is not None

    def present(self, keys: Sequence[str]) -> set[str]:
        """The ``keys`` that have an exchange, looked up ``SQL_VARIABLES`` at a time."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), SQL_VARIABLES):
                chunk = list(keys[start : start + SQL_VARIABLES])
                marks = ",".join("?" * len(chunk))
                found.update(row[0] for row in self._db.execute(f"SELECT key FROM exchanges WHERE key IN ({marks})", chunk))
        return found

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store (or replace) one finished exchange; committed before returning."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO exchanges VALUES (?, ?)", (key, canonical_json_text(value)))

    def keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT key FROM exchanges")}

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored float32 vectors among ``keys``."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), SQL_VARIABLES):
                chunk = list(keys[start : start + SQL_VARIABLES])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put_vectors(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors (float32) in one transaction."""
        rows = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

    def remember_batch(self, name: str, batch_id: str, keys: list[str]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?)", (name, batch_id, json.dumps(keys)))

    def batch(self, name: str) -> tuple[str, list[str]] | None:
        """The batch id and request keys stored for a batch name, if one was submitted."""
        with self._lock:
            row = self._db.execute("SELECT batch_id, keys FROM batches WHERE name = ?", (name,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
