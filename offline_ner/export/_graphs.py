"""Derived graphs: the fused GPU graph (fp32 or fp16) and the int8 CPU graph (activation scales per row), from the
plain export.

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
from typing import Any

import numpy as np
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
    """Dynamic int8 quantisation (weights int8 offline, activations at run time, one scale per row) of the plain
    fp32 graph.

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
    model = onnx.load(str(out))
    per_row_activations(model.graph)
    onnx.save(model, str(out))


def per_row_activations(graph: onnx.GraphProto) -> int:
    """Give every row (token) of each dynamically quantised activation its own scale and zero point; returns how
    many ``DynamicQuantizeLinear`` nodes were rewritten.

    ORT's ``DynamicQuantizeLinear`` takes one scale for the whole tensor, i.e. for every token of every sentence
    in the batch, so a sentence's numbers would depend on its batch neighbours and padding. Here each row's
    range comes from ``ReduceMin``/``ReduceMax`` over the last axis, with the same rounding as the operator
    (range widened to include 0, ``zero_point = round(-min / scale)``, ``q = clip(round(x / scale) + zp)``).
    ``MatMulInteger`` takes only a scalar ``a_zero_point``, so it runs with 0 and the row's zero point is taken
    off afterwards, exactly in int32: ``q @ W - zp_row * colsum(W)``. The existing ``scale * w_scale`` multiply
    then broadcasts the row scale.
    """
    from onnx import TensorProto, helper, numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def const(name: str, value: Any) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    last_axis = const("per_row/axes", np.array([-1], dtype=np.int64))
    zero, top = const("per_row/zero", np.float32(0)), const("per_row/255", np.float32(255))
    tiny = const("per_row/tiny", np.float32(np.finfo(np.float32).tiny))
    flat = const("per_row/flat", np.array([-1], dtype=np.int64))
    nodes: list[onnx.NodeProto] = []
    rewritten = 0
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        rewritten += 1
        (x,), (q, scale, zero_point) = node.input, node.output
        p = f"{node.name or q}/per_row"
        users = consumers[q]
        widths = {int(initializers[user.input[1]].dims[0]) for user in users if user.input[1] in initializers}
        if len(widths) != 1:
            raise ExportError(f"int8 graph: the readers of {q} do not share one weight width")
        rows = const(f"{p}/rows_shape", np.array([-1, widths.pop()], dtype=np.int64))
        zp_int = f"{p}/zp_int32"
        nodes += [
            helper.make_node("ReduceMin", [x, last_axis], [f"{p}/min0"], keepdims=1),
            helper.make_node("Min", [f"{p}/min0", zero], [f"{p}/min"]),
            helper.make_node("ReduceMax", [x, last_axis], [f"{p}/max0"], keepdims=1),
            helper.make_node("Max", [f"{p}/max0", zero], [f"{p}/max"]),
            helper.make_node("Sub", [f"{p}/max", f"{p}/min"], [f"{p}/range"]),
            helper.make_node("Div", [f"{p}/range", top], [f"{p}/scale0"]),
            helper.make_node("Max", [f"{p}/scale0", tiny], [scale]),  # an all-zero row: scale tiny, q = zp = 0
            helper.make_node("Div", [f"{p}/min", scale], [f"{p}/min_q"]),
            helper.make_node("Neg", [f"{p}/min_q"], [f"{p}/neg_min_q"]),
            helper.make_node("Round", [f"{p}/neg_min_q"], [f"{p}/zp_round"]),
            helper.make_node("Clip", [f"{p}/zp_round", zero, top], [f"{p}/zp"]),
            helper.make_node("Cast", [f"{p}/zp"], [zp_int], to=TensorProto.INT32),
            helper.make_node("Cast", [f"{p}/zp"], [f"{p}/zp_uint8"], to=TensorProto.UINT8),
            # one QuantizeLinear pass over the rows (axis 0 of x as a matrix), not five elementwise ones
            helper.make_node("Shape", [x], [f"{p}/shape"]),
            helper.make_node("Reshape", [x, rows], [f"{p}/x_rows"]),
            helper.make_node("Reshape", [scale, flat], [f"{p}/scale_rows"]),
            helper.make_node("Reshape", [f"{p}/zp_uint8", flat], [f"{p}/zp_rows"]),
            helper.make_node("QuantizeLinear", [f"{p}/x_rows", f"{p}/scale_rows", f"{p}/zp_rows"], [f"{p}/q_rows"],
                             axis=0),
            helper.make_node("Reshape", [f"{p}/q_rows", f"{p}/shape"], [q]),
        ]
        for user in users:
            if user.op_type != "MatMulInteger" or list(user.input[2:3]) != [zero_point] or user.input[1] not in initializers:
                raise ExportError(f"int8 graph: {user.name} reads {q} in a way the per-row rewrite does not know")
            weights = numpy_helper.to_array(initializers[user.input[1]]).astype(np.int32)
            if len(user.input) > 3 and user.input[3]:
                weights -= numpy_helper.to_array(initializers[user.input[3]]).astype(np.int32)
            colsum = const(f"{user.output[0]}/colsum", weights.sum(axis=0).astype(np.int32))
            product = user.output[0]
            user.input[2] = ""  # a_zero_point 0: the row's zero point is subtracted below
            user.output[0] = f"{product}/zp0"
            nodes += [
                helper.make_node("Mul", [zp_int, colsum], [f"{product}/zp_correction"]),
                helper.make_node("Sub", [f"{product}/zp0", f"{product}/zp_correction"], [product]),
            ]
    del graph.node[:]
    graph.node.extend(nodes)
    _topological_sort(graph)
    return rewritten


def _topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after the producers of its inputs (ONNX requires it)."""
    ready = {tensor.name for tensor in graph.initializer} | {value.name for value in graph.input} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        remaining = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                remaining.append(node)
        if len(remaining) == len(pending):
            raise ExportError("int8 graph: the per-row rewrite left a cycle or a dangling input")
        pending = remaining
    del graph.node[:]
    graph.node.extend(ordered)
