"""Where a training run's data and base model came from, for the model card: source, records, sha256, bundle.

Only the CLI knows both the source references (``bundle:<stream>/<path>`` or paths) and the store they resolve in,
so it describes them here; ``train/trained_card.py`` renders the description. Imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from offline_ner._fs import sha256_file


def bundle_digest(path: Path, store: Path) -> str | None:
    """The digest of the imported bundle whose payload holds ``path`` (``<store>/objects/<digest>/payload/...``)."""
    try:
        return Path(path).resolve().relative_to((Path(store).expanduser() / "objects").resolve()).parts[0]
    except (ValueError, IndexError):
        return None


def describe_source(ref: str, resolved: Path, store: Path, records: int | None = None) -> dict[str, Any]:
    """One source as the card shows it: as given, its record count, the file's sha256, its bundle's digest."""
    out: dict[str, Any] = {"source": ref}
    if records is not None:
        out["records"] = records
    if resolved.is_file():
        out["sha256"] = sha256_file(resolved)
    digest = bundle_digest(resolved, store)
    if digest is not None:
        out["bundle"] = {"reference": ref, "digest": digest}
    return out
