"""Fixtures of the inference tests: an export whose int8 graph has one activation scale per batch tensor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from offline_ner.contracts import MANIFEST_NAME


@pytest.fixture(scope="session")
def per_tensor_onnx_dir(tiny_onnx_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny export with its int8 graph replaced by per-tensor dynamic quantisation (what exports wrote before
    per-row scales), its manifest saying so as theirs did (no ``activation_scales``)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = tmp_path_factory.mktemp("per-tensor") / "onnx"
    shutil.copytree(tiny_onnx_dir, out)
    quantize_dynamic(out / "model.onnx", out / "model_int8.onnx", weight_type=QuantType.QInt8, per_channel=True)
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    for variant in manifest["variants"]:
        variant.pop("activation_scales", None)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return out
