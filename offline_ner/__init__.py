"""offline_ner: LLM-distilled named-entity recognition for closed, air-gapped networks.

Stages, each a subpackage: ``data`` (records and formats), ``annotate`` (connected side: LLM labels),
``bundle`` (signed transfer), ``train``, ``export`` (ONNX), ``infer`` (batch NER). Heavy stages are imported on
first use of their entry point, so ``import offline_ner`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

from offline_ner.data import Document, Record, read_records
from offline_ner.errors import ExitCode, OfflineNerError

__all__ = ["Document", "ExitCode", "OfflineNerError", "Record", "__version__", "read_records"]
