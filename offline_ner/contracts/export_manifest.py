"""The export manifest (``export.json``): the contract between the export stage, which writes it, and inference,
which reads it. One reader, :func:`read_export_manifest`, serves both, so the two can never disagree on the format.

Schema (``format`` ``offline-ner-onnx/1``)::

    {"format": "offline-ner-onnx/1", "created": "2026-...Z", "labels": ["O", "B-PER", ...],
     "source_model": {"path": "...", "sha256": {"model.safetensors": "..."}},
     "files": {"model.onnx": {"sha256": "...", "bytes": 123}, "tokenizer.json": {...}, ...},
     "variants": [{"name": "fp32", "file": "model.onnx", "precision": "fp32", "device": "cpu",
                   "fused_nodes": {...}, "validation": {"max_abs_logit_diff": ..., "argmax_agreement": ...}}],
     "text_tokenizer": {"name": "spacy-en-conll", "rules": 1, "spacy": "3.8.18", "fingerprint": "..."},
     "versions": {"onnxruntime": "...", ...}}

``text_tokenizer`` says how raw text is split into sentences and words for this model (``offline_ner.data.text``);
inference refuses to tokenise raw text for an export that records another. The graphs an export can hold are
named once, in :data:`VARIANT_SPECS`: the exporter writes them under these names and files, inference picks them
by name.

Example::

    manifest = read_export_manifest(Path("runs/onnx"), error=InferError)
    manifest.variant("cpu-int8")       # Variant(name="cpu-int8", file="model_int8.onnx", ...) or None
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline_ner.errors import OfflineNerError

MANIFEST_NAME = "export.json"
FORMAT = "offline-ner-onnx/1"


class MalformedManifest(ValueError):
    """The parsed ``export.json`` is not this format; the message says what is wrong."""


@dataclass(frozen=True)
class VariantSpec:
    """One graph an export can hold: its name in the manifest, its file, and the export option that adds it."""

    name: str
    file: str
    precision: str
    device: str
    flag: str  # the `offline-ner export` option that writes it ("" for the plain graph, always written)


FP32 = VariantSpec("fp32", "model.onnx", "fp32", "cpu", "")
GPU_FP32 = VariantSpec("gpu-fp32", "model_gpu.onnx", "fp32", "cuda", "--optimize")
GPU_FP16 = VariantSpec("gpu-fp16", "model_gpu_fp16.onnx", "fp16", "cuda", "--fp16")
CPU_INT8 = VariantSpec("cpu-int8", "model_int8.onnx", "int8", "cpu", "--int8")
PER_ROW = "per-row"  # an int8 graph's activation scales: one per row (token), computed from that row alone
VARIANT_SPECS: Mapping[str, VariantSpec] = {spec.name: spec for spec in (FP32, GPU_FP32, GPU_FP16, CPU_INT8)}


@dataclass(frozen=True)
class Variant:
    """One graph in an export folder, with what the exporter measured about it."""

    name: str
    file: str
    precision: str
    device: str
    fused_nodes: Mapping[str, int] | None = None  # GPU graphs: fused operator counts
    reduce_range: bool | None = None  # int8 graphs: 7-bit weights for CPUs without VNNI
    validation: Mapping[str, Any] | None = None  # the graph's check against PyTorch (export/validate.py)
    # int8 graphs: "per-row" (each token its own activation scale: batch-independent); None: one scale per batch
    # tensor (exports before per-row scales, optimum's model_quantized.onnx), which only an explicit --precision runs
    activation_scales: str | None = None

    @property
    def batch_independent(self) -> bool:
        """Whether a row's numbers depend only on the row, never on what shares its batch or on the padding."""
        return self.precision != "int8" or self.activation_scales == PER_ROW

    @classmethod
    def of(cls, spec: VariantSpec, **measured: Any) -> Variant:
        return cls(spec.name, spec.file, spec.precision, spec.device, **measured)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "file": self.file, "precision": self.precision, "device": self.device}
        for key in ("fused_nodes", "reduce_range", "validation", "activation_scales"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, Mapping) else value
        return out

    @classmethod
    def from_json(cls, data: object) -> Variant:
        if not isinstance(data, dict):
            raise MalformedManifest("each variant must be an object")
        try:
            name, file, precision, device = (str(data[key]) for key in ("name", "file", "precision", "device"))
        except KeyError as err:
            raise MalformedManifest(f"a variant lacks {err.args[0]!r}") from err
        fused, validation = data.get("fused_nodes"), data.get("validation")
        if not all(value is None or isinstance(value, dict) for value in (fused, validation)):
            raise MalformedManifest(f"variant {name!r}: 'fused_nodes' and 'validation' must be objects")
        reduce_range, scales = data.get("reduce_range"), data.get("activation_scales")
        return cls(
            name, file, precision, device, fused, None if reduce_range is None else bool(reduce_range), validation,
            None if scales is None else str(scales),
        )


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class ExportManifest:
    """What an ONNX folder holds: labels, each file's digest, each graph, the tokenizer and library versions."""

    created: str
    labels: tuple[str, ...]
    files: Mapping[str, FileDigest]
    variants: tuple[Variant, ...]
    source_model: Mapping[str, Any] = field(default_factory=dict)
    text_tokenizer: Mapping[str, Any] | None = None  # None: an export from before tokenizers were recorded
    versions: Mapping[str, str] = field(default_factory=dict)
    format: str = FORMAT

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "created": self.created,
            "labels": list(self.labels),
            "source_model": dict(self.source_model),
            "files": {name: digest.to_json() for name, digest in sorted(self.files.items())},
            "variants": [variant.to_json() for variant in self.variants],
            "versions": dict(self.versions),
        }
        if self.text_tokenizer is not None:
            out["text_tokenizer"] = dict(self.text_tokenizer)
        return out

    @classmethod
    def from_json(cls, data: object) -> ExportManifest:
        """Shape-check a parsed ``export.json``; :class:`MalformedManifest` says what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MalformedManifest(f"not an {FORMAT} manifest")
        files, variants, labels = data.get("files"), data.get("variants"), data.get("labels")
        if not isinstance(files, dict) or not isinstance(variants, list):
            raise MalformedManifest("manifest lacks 'files' or 'variants'")
        if not isinstance(labels, list) or not labels or not variants:
            raise MalformedManifest("lists no graphs or no labels")
        text_tokenizer = data.get("text_tokenizer")
        if text_tokenizer is not None and not isinstance(text_tokenizer, dict):
            raise MalformedManifest("'text_tokenizer' must be an object")
        try:
            digests = {str(name): FileDigest(str(d["sha256"]), int(d["bytes"])) for name, d in files.items()}
        except (KeyError, TypeError, ValueError) as err:
            raise MalformedManifest(f"a file entry lacks a sha256 or byte count ({err})") from err
        source_model, versions = data.get("source_model") or {}, data.get("versions") or {}
        if not isinstance(source_model, dict) or not isinstance(versions, dict):
            raise MalformedManifest("'source_model' and 'versions' must be objects")
        return cls(
            created=str(data.get("created", "")),
            labels=tuple(str(label) for label in labels),
            files=digests,
            variants=tuple(Variant.from_json(v) for v in variants),
            source_model=source_model,
            text_tokenizer=text_tokenizer,
            versions={str(k): str(v) for k, v in versions.items()},
        )


def read_export_manifest(folder: Path, *, error: type[OfflineNerError]) -> ExportManifest:
    """Load and check ``folder/export.json``; ``error`` is the reading stage's error class (export or infer).

    Raises:
        error: the manifest is missing, not JSON, or not this format.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{path}: no export manifest; run `offline-ner export` to create this folder") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path}: manifest is not valid JSON ({err}); re-export the model") from err
    try:
        return ExportManifest.from_json(data)
    except MalformedManifest as err:
        raise error(f"{path}: {err}; re-export the model") from err
