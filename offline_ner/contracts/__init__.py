"""The contracts between stages: what one stage hands another, as frozen dataclasses with ``to_json``/``from_json``.

Part of the shared core: stages import these and never each other, so a format is defined once, here. The
export manifest is written by ``export`` and read by ``infer``; a verification report leaves ``bundle`` for the
CLI; an annotation summary leaves ``annotate`` for the CLI; training metrics leave ``train`` for the CLI, the
experiment runner and the demo.

Example::

    from offline_ner.contracts import read_export_manifest
    manifest = read_export_manifest(Path("runs/onnx"), error=InferError)
"""

from __future__ import annotations

from offline_ner.contracts.annotation import AnnotationSummary, PartialAnnotation, RequestStats
from offline_ner.contracts.export_manifest import (
    CPU_INT8,
    FORMAT,
    FP32,
    GPU_FP16,
    GPU_FP32,
    MANIFEST_NAME,
    PER_ROW,
    VARIANT_SPECS,
    ExportManifest,
    FileDigest,
    Variant,
    VariantSpec,
    read_export_manifest,
)
from offline_ner.contracts.training import EpochShare, PhaseResult, TrainMetrics
from offline_ner.contracts.verification import BUNDLE_PREFIX, VerificationReport

__all__ = [
    "BUNDLE_PREFIX",
    "CPU_INT8",
    "FORMAT",
    "FP32",
    "GPU_FP16",
    "GPU_FP32",
    "MANIFEST_NAME",
    "PER_ROW",
    "VARIANT_SPECS",
    "AnnotationSummary",
    "EpochShare",
    "ExportManifest",
    "FileDigest",
    "PartialAnnotation",
    "PhaseResult",
    "RequestStats",
    "TrainMetrics",
    "Variant",
    "VariantSpec",
    "VerificationReport",
    "read_export_manifest",
]
