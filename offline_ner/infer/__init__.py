"""Batch NER inference over an ONNX export: CUDA (IO binding, fp16) when available, CPU otherwise.

Needs only ``tokenizers``, ``onnxruntime``, ``numpy`` and spaCy (its rule-based tokenizer, for raw text) at
inference time: using this package never imports torch or transformers (a test checks), so a closed-network
inference host can run without them.

Example::

    from offline_ner.infer import NerEngine
    engine = NerEngine("runs/onnx")
    for entities in engine.predict(["Angela Merkel visited Paris."]):
        print(entities)

Sharded runs (``predict --shard K/N`` and ``predict-merge``) live in :mod:`offline_ner.infer.shard`. The engine
and the shard tools are imported on first use, so reading ``config`` (the CLI's choices) loads no onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import Any

from offline_ner.infer.config import InferConfig

# public name -> module that defines it, imported on first access (they pull in onnxruntime and numpy)
_LAZY = {
    "NerEngine": "offline_ner.infer.engine",
    "Throughput": "offline_ner.infer.engine",
    "Entity": "offline_ner.infer.entities",
    "ShardManifest": "offline_ner.infer.shard",
    "ShardRun": "offline_ner.infer.shard",
    "ShardSpec": "offline_ner.infer.shard",
    "merge_shards": "offline_ner.infer.shard",
}

__all__ = ["Entity", "InferConfig", "NerEngine", "ShardManifest", "ShardRun", "ShardSpec", "Throughput", "merge_shards"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'offline_ner.infer' has no attribute {name!r}")
