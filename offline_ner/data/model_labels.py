"""The labels a model or export folder declares, from every file that declares them, and a check that they agree.

A trained folder names its labels in ``config.json`` twice (``id2label`` and ``label2id``); an export folder adds
``labels.json`` and ``export.json`` (``labels``). Each loader reads only one of them (transformers reads
``id2label``, our engine ``export.json``), so a hand edit to another would be silently ignored and the model would
print other names than the user expects. Loaders call :func:`agreed_labels` first. Pure JSON reading, nothing heavy.

Example::

    agreed_labels(Path("runs/onnx"))   # -> ("O", "B-PER", ...), or LabelFilesError naming the two files
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offline_ner.contracts import MANIFEST_NAME
from offline_ner.errors import LabelFilesError

# the engine's source first: it is the reference the others are compared with
EXPORT_MANIFEST = MANIFEST_NAME
LABELS_FILE, HF_CONFIG = "labels.json", "config.json"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LabelFilesError(f"{path}: cannot read it as JSON ({err})") from err


def _by_id(mapping: Mapping[Any, Any], path: Path, key: str) -> tuple[str, ...]:
    """``{id: label}`` -> labels in id order; ids must be 0..N-1."""
    try:
        by_id = {int(i): str(label) for i, label in mapping.items()}
    except (TypeError, ValueError) as err:
        raise LabelFilesError(f"{path}: {key} must map integer ids to labels ({err})") from err
    if sorted(by_id) != list(range(len(by_id))):
        raise LabelFilesError(f"{path}: {key} ids must be 0..{len(by_id) - 1}, found {sorted(by_id)}")
    return tuple(by_id[i] for i in range(len(by_id)))


def declared_labels(folder: Path) -> dict[str, tuple[str, ...]]:
    """Each declaration present in ``folder`` (``"config.json id2label"``, ...) -> its labels in id order."""
    found: dict[str, tuple[str, ...]] = {}
    if (folder / EXPORT_MANIFEST).is_file():
        manifest = _read(folder / EXPORT_MANIFEST)
        if isinstance(manifest, dict) and isinstance(manifest.get("labels"), list):
            found[f"{EXPORT_MANIFEST} labels"] = tuple(map(str, manifest["labels"]))
    if (folder / LABELS_FILE).is_file():
        labels = _read(folder / LABELS_FILE)
        if not isinstance(labels, list):
            raise LabelFilesError(f"{folder / LABELS_FILE}: expected a JSON list of labels in id order")
        found[LABELS_FILE] = tuple(map(str, labels))
    if (folder / HF_CONFIG).is_file():
        config = _read(folder / HF_CONFIG)
        if isinstance(config, dict) and isinstance(config.get("id2label"), dict):
            found[f"{HF_CONFIG} id2label"] = _by_id(config["id2label"], folder / HF_CONFIG, "id2label")
        if isinstance(config, dict) and isinstance(config.get("label2id"), dict):
            inverted = {i: label for label, i in config["label2id"].items()}
            if len(inverted) != len(config["label2id"]):
                raise LabelFilesError(f"{folder / HF_CONFIG}: label2id gives two labels the same id")
            found[f"{HF_CONFIG} label2id"] = _by_id(inverted, folder / HF_CONFIG, "label2id")
    return found


def _difference(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"id {i} is {x!r} in one and {y!r} in the other"
    return f"one has {len(a)} labels, the other {len(b)}"


def agreed_labels(folder: Path) -> tuple[str, ...] | None:
    """The labels every declaration in ``folder`` agrees on; None when no file declares any.

    Raises:
        LabelFilesError: two declarations disagree (the message names both and the first difference), or a
            label file is unreadable.
    """
    found = declared_labels(Path(folder))
    if not found:
        return None
    (first_name, first), *others = found.items()
    for name, labels in others:
        if labels != first:
            raise LabelFilesError(
                f"{folder}: {name} disagrees with {first_name} ({_difference(first, labels)}); the loader would "
                f"silently use one of them. Restore the edited file, or re-export the model after changing "
                f"{HF_CONFIG} (id2label and label2id)"
            )
    return first
