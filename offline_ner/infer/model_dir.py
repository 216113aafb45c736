"""Read an export folder (``export.json``, labels, tokenizer) and pick the graph for a device and precision.

The manifest is the shared contract :mod:`offline_ner.contracts.export_manifest` (written by the export stage,
read here with the same reader), so inference never imports the export stage or torch.

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
from offline_ner.errors import InferError, ModelNotFoundError

# preference order per (device, precision); "auto" takes the first one the export holds
PREFERENCES = {
    ("cuda", "auto"): (GPU_FP16, GPU_FP32, FP32),
    ("cuda", "fp16"): (GPU_FP16,),
    ("cuda", "fp32"): (GPU_FP32, FP32),
    ("cpu", "auto"): (CPU_INT8, FP32),
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
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file() or not (path / "tokenizer.json").is_file():
        raise ModelNotFoundError(
            f"{path}: not an ONNX export folder (needs {MANIFEST_NAME} and tokenizer.json); run `offline-ner export`"
        )
    manifest = read_export_manifest(path, error=InferError)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        max_positions = int(config.get("max_position_embeddings", 512))
    except (OSError, ValueError, AttributeError, TypeError) as err:
        raise InferError(f"{path}: unreadable model config ({err}); re-export the model") from err
    return ModelFolder(path, manifest.labels, manifest.variants, max_positions, manifest.text_tokenizer)
