"""Derived graphs: the fused GPU graph (fp32 or fp16) and the dynamic-int8 CPU graph, from the plain export.

Each function reads one ONNX file and writes another; none validates (``validate.py`` does). Measured on a
2-core AVX-512 box (docs/benchmarks.md): the fused fp32 graph was slightly *slower* on CPU than the plain one (4,332 vs
4,604 tokens/s), so fusion is only for the CUDA provider, and the CPU keeps ORT's own session-time fusions.
ORT's quantizer fails on the fused graph (shape inference cannot type the com.microsoft contrib ops), so int8
is always quantised from the plain export.

Example::

    counts = write_gpu_graph(plain, out / "model_gpu_fp16.onnx", num_heads=12, hidden_size=384, fp16=True)
    write_int8_graph(plain, out / "model_int8.onnx", reduce_range=cpu_needs_reduce_range())
"""

from __future__ import annotations

import collections
from pathlib import Path

import onnx

from offline_ner.errors import ExportError

# fused operators the CUDA provider has fast kernels for; their counts go into the manifest
FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "EmbedLayerNormalization",
    "SkipLayerNormalization",
    "LayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
)
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def op_counts(path: Path) -> dict[str, int]:
    """How many nodes of each fused operator type the graph holds (zeros included, for the manifest)."""
    counter = collections.Counter(node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node)
    return {op: counter.get(op, 0) for op in FUSED_OPS}


def fusion_problems(counts: dict[str, int], num_layers: int) -> list[str]:
    """Why a GPU graph is not fully fused: one attention node and two skip-LayerNorms per layer are expected."""
    problems = []
    attention = counts["Attention"] + counts["MultiHeadAttention"]
    if attention != num_layers:
        problems.append(f"fused attention nodes: {attention}, expected {num_layers} (one per layer)")
    if counts["SkipLayerNormalization"] < 2 * num_layers:
        problems.append(
            f"SkipLayerNormalization nodes: {counts['SkipLayerNormalization']}, "
            f"expected {2 * num_layers} (two per layer)"
        )
    return problems


def write_gpu_graph(plain: Path, out: Path, *, num_heads: int, hidden_size: int, fp16: bool) -> dict[str, int]:
    """Fuse attention, LayerNorm and GELU for the CUDA provider; optionally convert to fp16 (inputs/outputs stay).

    Returns:
        The fused-operator counts of the written graph.

    Raises:
        ExportError: ORT's transformer optimizer rejected the graph.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        # opt_level 0: only the Python fusions, so the file holds no provider-specific rewrites from this machine
        model = optimize_model(
            str(plain), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0, use_gpu=True
        )
        if fp16:
            # keep_io_types: callers feed int64 ids and read fp32 logits whichever graph they load
            model.convert_float_to_float16(keep_io_types=True)
        model.save_model_to_file(str(out))
    except (ValueError, RuntimeError, onnx.onnx_cpp2py_export.checker.ValidationError) as err:
        raise ExportError(f"optimising {plain.name} for GPU failed: {err}") from err
    return op_counts(out)


def cpu_needs_reduce_range(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True unless this CPU has VNNI: AVX2's u8*s8 multiply-add saturates with 8-bit weights, 7 bits do not."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return True  # unknown CPU: the safe choice costs a little accuracy, never correctness
    return not any(flag in flags for flag in VNNI_FLAGS)


def write_int8_graph(plain: Path, out: Path, *, reduce_range: bool) -> None:
    """Dynamic int8 quantisation (weights int8 offline, activations per batch) of the plain fp32 graph.

    Raises:
        ExportError: the quantizer failed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        # per-channel weight scales: on CoNLL test (quick MiniLM-L6) per-tensor int8 lost 0.5 F1 points (4.2 with
        # reduce_range), per-channel lost nothing, at the same speed (scripts/bench_infer.py)
        quantize_dynamic(plain, out, weight_type=QuantType.QInt8, reduce_range=reduce_range, per_channel=True)
    except (ValueError, RuntimeError) as err:
        raise ExportError(f"int8 quantisation of {plain.name} failed: {err}") from err
