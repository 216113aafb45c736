"""What goes into a bundle of each kind, gathered from a source folder or file on the connected side.

- ``annotations``: an exporter folder (``records.jsonl``, ``provenance.json``, optional ``qa.json``), or a plain
  JSONL/CoNLL label file, which becomes ``records.jsonl`` plus a generated ``provenance.json``.
- ``model``: a Hugging Face model folder (a hub cache snapshot of symlinks works too); safetensors weights only;
  optionally signed for OpenSSF Model Signing, or its upstream ``model.sig`` checked (``model_signature``).
- ``runtime``: a wheelhouse from ``offline-ner bundle runtime`` (wheels plus ``target.json``); ``requirements.lock``,
  ``install.sh`` and the CycloneDX SBOM ``sbom.cdx.json`` are added, and every wheel must fit the recorded target.

Each source is checked here so a bundle never carries what the closed side would refuse to use (broken records,
pickle weights, sdists). This module hashes nothing and writes nothing (``create``).

Example::

    files, provenance = collect_sources("model", Path("bert-base-cased"))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_ner._fs import sha256_file
from offline_ner.bundle import model_signature, runtime, sbom
from offline_ner.bundle.model_signature import NO_MODEL_SIGNING, ModelSigning
from offline_ner.data import detect_format, dumps_record, iter_jsonl, read_records, require_tags
from offline_ner.errors import BundleError, DataError

ANNOTATION_FILES = ("records.jsonl", "provenance.json", "qa.json")
# formats that unpickle (run code) on load: a model bundle must never carry them
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")


@dataclass(frozen=True)
class PayloadFile:
    """One payload file: bytes from ``source`` on disk, or generated ``data``.

    ``sha256``: the digest another payload file already states for ``source`` (the lock and SBOM for a wheel, the
    model signature for a model file); ``create`` refuses the file if it no longer has it.
    """

    path: str
    source: Path | None = None
    data: bytes | None = None
    sha256: str | None = None


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not readable JSON: {err}", path=path) from err
    except RecursionError as err:
        raise DataError("JSON nested too deeply", path=path) from err
    if not isinstance(value, dict):
        raise DataError("expected a JSON object", path=path)
    return value


def _annotations(source: Path) -> tuple[list[PayloadFile], dict[str, Any]]:
    if source.is_file():
        fmt = detect_format(source)  # by content: JSONL, CoNLL, Label Studio export, spaCy DocBin
        records = read_records(source, fmt)  # DataError names file and line (or task)
        # a CoNLL file whose last column is not tags reads as plain text: unlabelled records are no annotations
        require_tags(records, f"an annotations bundle carries labelled records, and this {fmt} input has none "
                     "(a CoNLL file needs its tag column last)", path=source)
        text = "".join(dumps_record(record) for record in records).encode("utf-8")
        imported = {"file": source.name, "sha256": sha256_file(source), "format": fmt}
        provenance = {"imported_from": imported}
        files = [
            PayloadFile("provenance.json", data=json.dumps(provenance, indent=2, sort_keys=True).encode() + b"\n"),
            PayloadFile("records.jsonl", data=text),
        ]
        return files, {"records": len(records), **provenance}
    present = sorted(p.name for p in source.iterdir())
    unexpected = [name for name in present if name not in ANNOTATION_FILES]
    if unexpected:
        raise BundleError(f"{source} holds {unexpected}; an annotations bundle carries only {list(ANNOTATION_FILES)}")
    for required in ("records.jsonl", "provenance.json"):
        if required not in present:
            raise BundleError(f"{source} has no {required}; export annotations with 'offline-ner annotate' first")
    count = sum(1 for _ in iter_jsonl(source / "records.jsonl"))
    summary: dict[str, Any] = {"records": count, "exporter": _json_object(source / "provenance.json")}
    if "qa.json" in present:
        _json_object(source / "qa.json")
    return [PayloadFile(name, source=source / name) for name in present], summary


def _model(source: Path, signing: ModelSigning) -> tuple[list[PayloadFile], dict[str, Any]]:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    names = [p.relative_to(source).as_posix() for p in files]
    pickles = [name for name in names if name.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise BundleError(
            f"{source} holds pickle weights {pickles[:3]}: they run code when loaded. Convert to safetensors "
            "(model.save_pretrained(dir, safe_serialization=True)) and remove them"
        )
    if "config.json" not in names or not any(name.endswith(".safetensors") for name in names):
        raise BundleError(f"{source} is not a Hugging Face model folder with config.json and *.safetensors")
    config = _json_object(source / "config.json")
    summary = {
        "source_name": source.name,
        "model_type": config.get("model_type"),
        "architectures": config.get("architectures"),
        "weights": [name for name in names if name.endswith(".safetensors")],
    }
    signed = model_signature.apply(source, names, signing)
    payload = [PayloadFile(name, source=path, sha256=signed.digests.get(name))
               for name, path in zip(names, files, strict=True)]
    if signed.signature is not None:
        payload.append(PayloadFile(model_signature.SIGNATURE_FILE, data=signed.signature))
    return payload, summary if signed.record is None else {**summary, "model_signing": signed.record}


def _runtime(source: Path) -> tuple[list[PayloadFile], dict[str, Any]]:
    target = runtime.Target.read(source)
    wheels = sorted(p for p in source.iterdir() if p.is_file() and p.name != runtime.TARGET_FILE)
    if not wheels:
        raise BundleError(f"{source} holds no wheels; build it with 'offline-ner bundle runtime'")
    hashes = {}
    for wheel in wheels:
        runtime.parse_wheel_name(wheel.name)
        target.check_wheel(wheel.name)
        hashes[wheel.name] = sha256_file(wheel)
    files = [PayloadFile(f"wheels/{w.name}", source=w, sha256=hashes[w.name]) for w in wheels]
    files.append(PayloadFile("requirements.lock", data=runtime.lock_text(hashes).encode()))
    files.append(PayloadFile("install.sh", data=runtime.install_script()))
    files.append(PayloadFile(sbom.SBOM_FILE, data=sbom.sbom_json({w.name: w for w in wheels}, hashes)))
    return files, {**runtime.runtime_summary(hashes, target), "sbom": sbom.SBOM_FILE}


def collect_sources(
    kind: str, source: Path, model_signing: ModelSigning = NO_MODEL_SIGNING
) -> tuple[list[PayloadFile], dict[str, Any]]:
    """The payload files (sorted by path) and the manifest provenance summary for ``kind`` from ``source``;
    ``model_signing`` signs a model folder or checks its upstream signature (:mod:`.model_signature`).

    Raises:
        BundleError: the source is missing or does not fit the kind (pickle weights, sdists, stray files).
        SignatureError: a model folder does not verify against its upstream ``model.sig``.
        DataError: annotation records or JSON side files are malformed.
    """
    source = Path(source)
    if not source.exists():
        raise BundleError(f"bundle source {source} does not exist")
    if kind != "annotations" and not source.is_dir():
        raise BundleError(f"a {kind} bundle is made from a folder; {source} is not one")
    if kind == "model":
        files, summary = _model(source, model_signing)
    elif kind in ("annotations", "runtime"):
        files, summary = (_annotations if kind == "annotations" else _runtime)(source)
    else:
        raise BundleError(f"unknown bundle kind {kind!r}")
    return sorted(files, key=lambda f: f.path), summary
