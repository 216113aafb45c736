"""The GPU check script's CPU path: the same export, engines and agreement check, with the fp16 graph on CPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from offline_ner.infer.session import cuda_unavailable_reason

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"
pytestmark = pytest.mark.usefixtures("no_network")


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_cpu_path_exports_fp16_and_agrees_with_fp32(tiny_bert_dir: Path, tmp_path: Path) -> None:
    args = ["--device", "cpu", "--model", str(tiny_bert_dir), "--docs", "60", "--work", str(tmp_path)]
    result = load_script().main(args)
    assert result["ok"], result
    assert result["target"]["model_file"] == "model_gpu_fp16.onnx"
    assert result["target_throughput"]["documents"] == 60
    assert (tmp_path / "gpu_check.json").is_file()


@pytest.mark.gpu
@pytest.mark.skipif(cuda_unavailable_reason() is not None, reason="needs CUDA")
def test_gpu_check_on_cuda_uses_io_binding_and_agrees(tiny_bert_dir: Path, tmp_path: Path) -> None:
    args = ["--device", "cuda", "--model", str(tiny_bert_dir), "--docs", "200", "--work", str(tmp_path)]
    result = load_script().main(args)
    assert result["ok"], result
    assert result["target"]["device"] == "cuda"
