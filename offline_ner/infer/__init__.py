"""Batch NER inference over an ONNX export: CUDA (IO binding, fp16) when available, CPU otherwise.

Needs only ``tokenizers``, ``onnxruntime``, ``numpy`` and spaCy (its rule-based tokenizer, for raw text) at
inference time: using this package never imports torch or transformers (a test checks), so a closed-network
inference host can run without them.

Example::

    from offline_ner.infer import NerEngine
    engine = NerEngine("runs/onnx")
    for entities in engine.predict(["Angela Merkel visited Paris."]):
        print(entities)

Sharded runs (``predict --shard K/N`` and ``predict-merge``) live in :mod:`offline_ner.infer.shard`.
"""

from __future__ import annotations

from offline_ner.infer.config import InferConfig
from offline_ner.infer.engine import NerEngine, Throughput
from offline_ner.infer.entities import Entity
from offline_ner.infer.shard import ShardManifest, ShardRun, ShardSpec, merge_shards

__all__ = ["Entity", "InferConfig", "NerEngine", "ShardManifest", "ShardRun", "ShardSpec", "Throughput", "merge_shards"]
