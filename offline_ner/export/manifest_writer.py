"""Write the export manifest (``export.json``) and check an export folder's files against it.

The format itself, and its one reader, are the shared contract :mod:`offline_ner.contracts.export_manifest`
(inference reads the same file without importing this stage). Hashing and comparison are pure (bytes in, facts
out); the only I/O is reading the files being hashed.

Example::

    manifest = build_manifest(folder, variants=..., labels=..., source_model=...)
    assert not hash_mismatches(folder, manifest.files)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from offline_ner._fs import sha256_file
from offline_ner.contracts import MANIFEST_NAME, ExportManifest, FileDigest, Variant, read_export_manifest
from offline_ner.errors import ExportError


def describe_files(folder: Path, names: Iterable[str]) -> dict[str, FileDigest]:
    """The sha256 and size of each named file of ``folder``, sorted by name."""
    return {name: FileDigest(sha256_file(folder / name), (folder / name).stat().st_size) for name in sorted(names)}


def build_manifest(
    folder: Path,
    *,
    variants: Sequence[Variant],
    labels: Sequence[str],
    source_model: Mapping[str, Any],
    versions: Mapping[str, str],
    text_tokenizer: Mapping[str, Any],
) -> ExportManifest:
    """The manifest for every regular file in ``folder`` (except the manifest itself)."""
    names = [p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST_NAME]
    return ExportManifest(
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        labels=tuple(labels),
        files=describe_files(folder, names),
        variants=tuple(variants),
        source_model=dict(source_model),
        text_tokenizer=dict(text_tokenizer),
        versions=dict(versions),
    )


def read_manifest(folder: Path) -> ExportManifest:
    """Load and shape-check ``folder/export.json``.

    Raises:
        ExportError: the manifest is missing, not JSON, or not this format.
    """
    return read_export_manifest(folder, error=ExportError)


def hash_mismatches(folder: Path, files: Mapping[str, FileDigest]) -> list[str]:
    """One message per listed file that is missing or whose size or sha256 differs; empty when all match."""
    problems = []
    for name, expected in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
        elif path.stat().st_size != expected.bytes or sha256_file(path) != expected.sha256:
            problems.append(f"{name}: sha256 or size differs from {MANIFEST_NAME} (file changed after export)")
    return problems
