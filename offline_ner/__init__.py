"""offline_ner: LLM-distilled named-entity recognition for closed, air-gapped networks.

Stages, each a subpackage: ``data`` (records and formats), ``annotate`` (connected side: LLM labels),
``bundle`` (signed transfer), ``train``, ``export`` (ONNX), ``infer`` (batch NER). Each stage's entry point is
re-exported here and imported on first use, so ``import offline_ner`` pulls in neither torch, onnxruntime nor
openai.

Example::

    import offline_ner
    verified = offline_ner.verify_bundle(path, offline_ner.TrustStore.load(trust_path))
    engine = offline_ner.NerEngine("runs/onnx")
"""

from __future__ import annotations

import importlib
from typing import Any

from offline_ner.data import Document, Record, read_records
from offline_ner.errors import ExitCode, OfflineNerError

__version__ = "0.1.0"

# public name -> the stage that defines it; imported on first attribute access (they load heavy libraries)
_STAGE_ENTRY_POINTS = {
    "annotate": "offline_ner.annotate",
    "import_labels": "offline_ner.annotate",
    "create_bundle": "offline_ner.bundle",
    "verify_bundle": "offline_ner.bundle",
    "import_bundle": "offline_ner.bundle",
    "resolve_reference": "offline_ner.bundle",
    "TrustStore": "offline_ner.bundle",
    "TrainConfig": "offline_ner.train",
    "train": "offline_ner.train",
    "evaluate_model": "offline_ner.train",
    "ExportConfig": "offline_ner.export",
    "export_onnx": "offline_ner.export",
    "NerEngine": "offline_ner.infer",
    "run_experiment": "offline_ner.experiment",
}

__all__ = [
    "Document",
    "ExitCode",
    "ExportConfig",
    "NerEngine",
    "OfflineNerError",
    "Record",
    "TrainConfig",
    "TrustStore",
    "__version__",
    "annotate",
    "create_bundle",
    "evaluate_model",
    "export_onnx",
    "import_bundle",
    "import_labels",
    "read_records",
    "resolve_reference",
    "run_experiment",
    "train",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    module = _STAGE_ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module 'offline_ner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
