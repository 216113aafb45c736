"""The results file: one JSON row per finished run, rewritten atomically on every append.

A run killed mid-way leaves the file as it was before that run (temp file, fsync, rename), so resuming trusts
every row it finds. Appends hold an exclusive lock on ``<file>.lock``, so several ``offline-ner experiment``
processes (e.g. one per core, each with its own ``--only`` arms) can share one results file without losing rows.
Rows of cells no longer in the grid (an edited config) stay in the file but are not reported.

Example::

    store = ResultStore(out_dir / "results.jsonl")
    if cell.fingerprint not in store.finished():
        store.append(row)
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.errors import DataError


class ResultStore:
    """The rows of ``path`` (JSONL); appending rewrites the whole file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def rows(self) -> list[dict[str, Any]]:
        """All rows, in the order they finished."""
        if not self.path.exists():
            return []
        rows = []
        for line_no, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"not a JSON row: {err.msg}", path=self.path, line=line_no) from err
        return rows

    def finished(self) -> dict[str, dict[str, Any]]:
        """Rows by cell fingerprint (a later row for the same fingerprint wins)."""
        return {row["fingerprint"]: row for row in self.rows()}

    def append(self, row: dict[str, Any]) -> None:
        """Add one row; the file is either the old one or the old one plus this row."""
        self.extend([row])

    def extend(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add rows; the file is either the old one or the old one plus all of them."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # read-modify-write: another process must not append in between
            lines = [json.dumps(r, sort_keys=True) for r in (*self.rows(), *rows)]
            atomic_write_text(self.path, "\n".join(lines) + "\n")
