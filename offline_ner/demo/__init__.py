"""The fresh-machine demo: the whole product, end to end, on a small corpus we wrote ourselves.

``scripts/demo.sh`` (after ``scripts/setup.sh``) runs :mod:`offline_ner.demo.walkthrough`, which drives the real
``offline-ner`` commands in subprocesses: keys → LLM annotation (replayed recordings of a real small model, or
a live endpoint) → signed bundle → trust, verify, import → Simple Mix training → ONNX export → batch predict → F1
and throughput. This package holds the corpus (``corpus/``, see its README) and the recorded LLM exchanges
(``recordings.jsonl``); it imports no stage.

Example::

    python -m offline_ner.demo.walkthrough --work-dir demo-out
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def demo_dir() -> Path:
    """This package's folder on disk (the corpus and recordings ship as package data)."""
    return Path(str(importlib.resources.files("offline_ner.demo")))


__all__ = ["demo_dir"]
