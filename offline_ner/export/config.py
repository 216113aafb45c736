"""The export stage's settings: which graphs to write and how closely each must match PyTorch.

Pure data; :func:`offline_ner.config.load_config` fills it from YAML or ``key=value`` overrides.

Example::

    cfg = ExportConfig(fp16=True, int8=True)
    export_onnx("runs/model", "runs/onnx", cfg)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportConfig:
    """What :func:`~offline_ner.export.export_onnx` writes and the tolerances it validates against."""

    # None: optimum's default opset for the architecture (the one its BERT config is tested with)
    opset: int | None = None
    # write model_gpu.onnx: attention/LayerNorm/GELU fused for the CUDA provider
    optimize: bool = False
    # write model_gpu_fp16.onnx: the fused graph in half precision (GPU only; halves memory traffic)
    fp16: bool = False
    # write model_int8.onnx: int8 weights, activations quantised per row at run time, for CPU inference
    int8: bool = False
    # None: decide from this CPU; 7-bit weights avoid u8*s8 overflow in AVX2 kernels without VNNI
    int8_reduce_range: bool | None = None
    # fp32 graphs: optimum's BERT atol is 1e-4; fused attention reorders sums, so allow 1e-3 on logits
    fp32_atol: float = 1e-3
    # fp16 keeps ~3 significant digits: 5e-2 on logits of magnitude ~10
    fp16_atol: float = 5e-2
    # float graphs must choose the same label as PyTorch on (almost) every validation token
    min_argmax_agreement: float = 0.999
    # int8 logits move by design and its accuracy is judged by F1 (scripts/bench_infer.py); this only catches a
    # broken quantisation (chance is 1/labels): an untrained MiniLM head, all near-tied logits, still agrees 0.81
    int8_min_argmax_agreement: float = 0.75
    # replace an existing export in the output folder (it is replaced only after validation passes)
    overwrite: bool = True
