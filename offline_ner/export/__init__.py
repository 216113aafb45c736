"""Export a trained model to ONNX (optimum), derive GPU/fp16/int8 graphs, validate them all against PyTorch.

Closed side: imports :mod:`offline_ner.hf_offline` first, loads only from disk. The folder it writes is what
:class:`offline_ner.infer.NerEngine` loads; ``export.json`` (``offline_ner.contracts.export_manifest``) is the
contract between them.

Example::

    from offline_ner.export import ExportConfig, export_onnx
    onnx = export_onnx("runs/model", "runs/onnx", ExportConfig(fp16=True, int8=True))
"""

from __future__ import annotations

import offline_ner.hf_offline  # noqa: F401  (first: the HF libraries must never try the hub)
from offline_ner.export.config import ExportConfig
from offline_ner.export.exporter import OnnxDir, export_onnx, read_labels
from offline_ner.export.manifest_writer import MANIFEST_NAME, read_manifest
from offline_ner.export.validate import GraphCheck, validate_export

__all__ = [
    "MANIFEST_NAME",
    "ExportConfig",
    "GraphCheck",
    "OnnxDir",
    "export_onnx",
    "read_labels",
    "read_manifest",
    "validate_export",
]
