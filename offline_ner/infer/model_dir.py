"""Read an export folder (``export.json``, labels, tokenizer) and pick the graph for a device and precision.

The manifest is the shared contract :mod:`offline_ner.contracts.export_manifest` (written by the export stage,
read here with the same reader), so inference never imports the export stage or torch.

A folder from ``optimum-cli export onnx --task token-classification`` (``model.onnx``, ``config.json``,
``tokenizer.json``, no ``export.json``) is read too: labels from ``config.json``'s ``id2label``, the graph as
fp32 (and ``model_quantized.onnx``, what ``optimum-cli onnxruntime quantize`` writes, as CPU int8). It records no
text tokenizer, so raw text is split by this package's (its ``origin`` says so).

On the CPU ``auto`` is fp32: the int8 graph (per-row activation scales, batch-independent) kept F1 within 0.13
points but reached only 0.83-1.45x fp32's speed in ``scripts/bench_infer.py`` (AVX2 without VNNI) against issue
27's 1.6x bar (BENCHMARKS.md), so it runs when ``int8`` is asked for by name.

Example::

    folder = read_model_folder(Path("runs/onnx"))
    variant = folder.variant_for("cpu", "auto")      # Variant(file="model_int8.onnx", precision="int8", ...)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_ner.contracts import CPU_INT8, FP32, GPU_FP16, GPU_FP32, MANIFEST_NAME, Variant, read_export_manifest
from offline_ner.data.model_labels import agreed_labels
from offline_ner.errors import InferError, ModelNotFoundError

# a stock optimum export's graphs, by the file names optimum writes
OPTIMUM_GRAPHS = (Variant(FP32.name, "model.onnx", "fp32", "cpu"),
                  Variant(CPU_INT8.name, "model_quantized.onnx", "int8", "cpu"))
# preference order per (device, precision); "auto" takes the first one the export holds
PREFERENCES = {
    ("cuda", "auto"): (GPU_FP16, GPU_FP32, FP32),
    ("cuda", "fp16"): (GPU_FP16,),
    ("cuda", "fp32"): (GPU_FP32, FP32),
    ("cpu", "auto"): (FP32,),  # int8 is opt-in: below the 1.6x speed bar (docs/adr/0002)
    ("cpu", "fp32"): (FP32,),
    ("cpu", "int8"): (CPU_INT8,),
    ("cpu", "fp16"): (GPU_FP16,),  # runs (validation does it) but slowly: CPUs lack fast fp16 kernels
}


@dataclass(frozen=True)
class ModelFolder:
    """What inference needs from an export folder."""

    path: Path
    labels: tuple[str, ...]
    variants: tuple[Variant, ...]
    max_positions: int
    # how raw text must be split into words for this model (export.json "text_tokenizer"); None: not recorded
    text_tokenizer: Mapping[str, Any] | None = None
    origin: str = "offline-ner"  # or "optimum": a stock optimum export (no manifest, no recorded text tokenizer)

    @property
    def tokenizer_path(self) -> Path:
        return self.path / "tokenizer.json"

    def variant_for(self, device: str, precision: str) -> Variant:
        """The graph to load; raises InferError when the export holds none that fits."""
        wanted = PREFERENCES.get((device, precision))
        if wanted is None:
            raise InferError(f"no {precision} graph can run on {device} (int8 graphs are for the CPU)")
        by_name = {variant.name: variant for variant in self.variants}
        for spec in wanted:
            if spec.name in by_name:
                return by_name[spec.name]
        raise InferError(f"{self.path} has no {precision} graph for {device}; re-export with {wanted[0].flag}".strip())


def read_model_folder(path: str | Path) -> ModelFolder:
    """Load the manifest and config of an export folder.

    Raises:
        ModelNotFoundError: the folder or its files are missing.
        InferError: the manifest is unreadable or lists no graphs.
        LabelFilesError: labels.json or config.json names other labels than export.json.
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file() and (path / "model.onnx").is_file() and (path / "tokenizer.json").is_file():
        return read_optimum_folder(path)
    if not manifest_path.is_file() or not (path / "tokenizer.json").is_file():
        raise ModelNotFoundError(
            f"{path}: not an ONNX export folder (needs {MANIFEST_NAME} and tokenizer.json, or an optimum export's "
            "model.onnx, config.json and tokenizer.json); run `offline-ner export`"
        )
    manifest = read_export_manifest(path, error=InferError)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        max_positions = int(config.get("max_position_embeddings", 512))
    except (OSError, ValueError, AttributeError, TypeError) as err:
        raise InferError(f"{path}: unreadable model config ({err}); re-export the model") from err
    agreed_labels(path)  # labels.json and config.json must say what export.json says (LabelFilesError)
    return ModelFolder(path, manifest.labels, manifest.variants, max_positions, manifest.text_tokenizer)


def read_optimum_folder(path: Path) -> ModelFolder:
    """A stock optimum token-classification export: labels from ``config.json``, graphs by optimum's file names.

    Raises:
        InferError: ``config.json`` is missing, unreadable, or has no ``id2label`` covering ids 0..n-1.
    """
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        id2label = {int(key): str(value) for key, value in config["id2label"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InferError(f"{path}: an optimum export needs config.json with id2label ({err})") from err
    if not id2label or sorted(id2label) != list(range(len(id2label))):
        raise InferError(f"{path}/config.json: id2label must number the labels 0..n-1")
    variants = tuple(variant for variant in OPTIMUM_GRAPHS if (path / variant.file).is_file())
    labels = tuple(id2label[k] for k in range(len(id2label)))
    return ModelFolder(path, labels, variants, int(config.get("max_position_embeddings", 512)), None, "optimum")


def is_onnx_folder(path: str | Path) -> bool:
    """Whether ``path`` holds an ONNX export (ours or optimum's) rather than a PyTorch model folder."""
    path = Path(path)
    return (path / MANIFEST_NAME).is_file() or (path / "model.onnx").is_file()
