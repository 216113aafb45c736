"""The export manifest (``export.json``): what an ONNX folder holds, each file's sha256, each graph's validation.

The manifest is the contract between export and inference: the inference engine reads ``variants`` to pick a
graph for its device and never guesses file names. Hashing and comparison are pure (bytes in, facts out); the
only I/O is reading the files being hashed.

Schema (``format`` ``offline-ner-onnx/1``)::

    {"format": "offline-ner-onnx/1", "created": "2026-...Z", "labels": ["O", "B-PER", ...],
     "source_model": {"path": "...", "sha256": {"model.safetensors": "..."}},
     "files": {"model.onnx": {"sha256": "...", "bytes": 123}, "tokenizer.json": {...}, ...},
     "variants": [{"name": "fp32", "file": "model.onnx", "precision": "fp32", "device": "cpu",
                   "fused_nodes": {...}, "validation": {"max_abs_logit_diff": ..., "argmax_agreement": ...}}],
     "text_tokenizer": {"name": "spacy-en-conll", "rules": 1, "spacy": "3.8.18", "fingerprint": "..."},
     "versions": {"onnxruntime": "...", ...}}

``text_tokenizer`` says how raw text is split into sentences and words for this model: the CoNLL-style
tokenizer of ``offline_ner.data`` that the model's training records follow (CoNLL files are tokenised that way,
text folders are tokenised by it). Inference refuses to tokenise raw text for an export that records another.

Example::

    manifest = build_manifest(folder, variants=..., labels=..., source_model=...)
    assert not hash_mismatches(folder, manifest)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from offline_ner._fs import sha256_file
from offline_ner.errors import ExportError

MANIFEST_NAME = "export.json"
FORMAT = "offline-ner-onnx/1"


def describe_files(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256", "bytes"}}`` for the named files of ``folder``, sorted by name."""
    return {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size} for name in sorted(names)
    }


def build_manifest(
    folder: Path,
    *,
    variants: list[dict[str, Any]],
    labels: list[str],
    source_model: Mapping[str, Any],
    versions: Mapping[str, str],
    text_tokenizer: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest for every regular file in ``folder`` (except the manifest itself)."""
    names = [p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST_NAME]
    return {
        "format": FORMAT,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "labels": list(labels),
        "source_model": dict(source_model),
        "files": describe_files(folder, names),
        "variants": variants,
        "text_tokenizer": dict(text_tokenizer),
        "versions": dict(versions),
    }


def read_manifest(folder: Path) -> dict[str, Any]:
    """Load and shape-check ``folder/export.json``.

    Raises:
        ExportError: the manifest is missing, not JSON, or not this format.
    """
    path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ExportError(f"{path}: no export manifest; run `offline-ner export` to create this folder") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportError(f"{path}: manifest is not valid JSON ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportError(f"{path}: not an {FORMAT} manifest")
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("variants"), list):
        raise ExportError(f"{path}: manifest lacks 'files' or 'variants'")
    return manifest


def hash_mismatches(folder: Path, manifest: Mapping[str, Any]) -> list[str]:
    """One message per listed file that is missing or whose size or sha256 differs; empty when all match."""
    problems = []
    for name, expected in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
        elif path.stat().st_size != expected.get("bytes") or sha256_file(path) != expected.get("sha256"):
            problems.append(f"{name}: sha256 or size differs from {MANIFEST_NAME} (file changed after export)")
    return problems
