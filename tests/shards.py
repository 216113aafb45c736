"""Finished shard outputs made without a model: what `predict --shard K/N` leaves (output + manifest), so that
`predict-merge` can be driven with real manifests in tests that must stay fast."""

from __future__ import annotations

import json
from pathlib import Path

from offline_ner.infer.inputs import iter_documents
from offline_ner.infer.shard import ShardRun, ShardSpec


def write_shards(documents: Path, folder: Path, count: int) -> list[Path]:
    """Shard outputs ``part-K.jsonl`` (one line per document, no entities) with their manifests, for ``documents``
    (a JSONL or text file, or a folder of .txt files)."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs = []
    for index in range(1, count + 1):
        output = folder / f"part-{index}.jsonl"
        run = ShardRun(ShardSpec(index, count), output, "jsonl")
        lines = [json.dumps({"id": doc.id, "entities": []}) + "\n" for doc in run.select(iter_documents(documents))]
        output.write_text("".join(lines), encoding="utf-8")
        run.finish()
        outputs.append(output)
    return outputs
