"""ONNX Runtime sessions: pick the device (CUDA when it really works, else CPU), open the graph, run batches.

``onnxruntime-gpu`` lists the CUDA provider even on machines without a GPU or without CUDA libraries, and then
silently falls back to the CPU. So the choice is made by opening the session and reading back which provider
it got; ``device="cuda"`` fails loudly instead of falling back, ``"auto"`` falls back and says why. On CUDA,
batches go through IO binding (inputs copied once, logits bound on the device and copied back once).

Example::

    runner = open_runner(Path("onnx/model.onnx"), device="cpu", threads=physical_cores())
    logits = runner.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from offline_ner._extras import missing_extra
from offline_ner.errors import InferError

try:
    import onnxruntime as ort
except ModuleNotFoundError as err:  # the bare package has no runtime: say which extra brings one
    raise missing_extra("onnxruntime") or err from err

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GRAPH_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_ORT_STATE = ort.capi.onnxruntime_pybind11_state
# ORT's pybind exception classes do not derive from RuntimeError; each means "this graph cannot be used"
ORT_ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError, _ORT_STATE.Fail, _ORT_STATE.InvalidGraph, _ORT_STATE.InvalidArgument, _ORT_STATE.NoSuchFile,
    _ORT_STATE.InvalidProtobuf, _ORT_STATE.RuntimeException, _ORT_STATE.EPFail,
)


def physical_cores() -> int:
    """Physical cores this process may use: hyper-threads share one core's FMA units, so more threads than cores
    only adds contention in GEMM-bound inference."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return allowed
    cores, physical = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical = value.strip()
        elif key.strip() == "core id":
            cores.add((physical, value.strip()))
    return max(1, min(allowed, len(cores) or allowed))


def nvidia_driver_present() -> bool:
    """Cheap pre-check (Linux): without the NVIDIA driver no CUDA session can open, so don't try to load one."""
    if not Path("/proc").is_dir():
        return True  # not Linux: let onnxruntime decide
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def cuda_build() -> str:
    """The CUDA version this onnxruntime build links against (e.g. "13.0"), or "" for CPU-only builds."""
    try:
        from onnxruntime.capi import build_and_package_info
    except ImportError:
        return ""
    return str(getattr(build_and_package_info, "cuda_version", "") or "")


@functools.cache
def preload_cuda_libraries() -> str:
    """Load the CUDA and cuDNN libraries of the ``nvidia-*`` pip wheels (``pip install 'offline-ner[gpu]'``), if
    installed, so that the CUDA provider finds them without LD_LIBRARY_PATH; returns what onnxruntime reported.

    A wheelhouse carries CUDA as those wheels into a closed network, where no system CUDA toolkit may exist. Once
    per process; a machine without them keeps the system libraries and nothing is loaded.
    """
    if importlib.util.find_spec("nvidia") is None or not hasattr(ort, "preload_dlls"):
        return ""
    report = io.StringIO()
    try:
        with contextlib.redirect_stdout(report):  # it prints each library it cannot load
            ort.preload_dlls()
    except (OSError, RuntimeError) as err:
        return str(err)
    return report.getvalue().strip()


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, or None when it may be (the session decides for sure)."""
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    if not nvidia_driver_present():
        return "no NVIDIA driver or GPU found"
    return None


@dataclass
class Runner:
    """An open session plus how to feed it; ``run`` takes int64 arrays and returns fp32 logits."""

    session: ort.InferenceSession
    device: str
    input_names: frozenset[str]

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, feed: Mapping[str, np.ndarray]) -> np.ndarray:
        inputs = {name: array for name, array in feed.items() if name in self.input_names}
        if self.device == "cuda":
            binding = self.session.io_binding()
            for name, array in inputs.items():
                binding.bind_cpu_input(name, array)
            binding.bind_output("logits", "cuda")
            self.session.run_with_iobinding(binding)
            logits = binding.copy_outputs_to_cpu()[0]
        else:
            logits = self.session.run(["logits"], inputs)[0]
        return np.asarray(logits, dtype=np.float32)


def session_options(threads: int, graph_level: str = "all", spin_wait: bool = False) -> ort.SessionOptions:
    """The CPU settings every engine session uses (benchmarks profile the same settings)."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one graph at a time: parallelism lives inside the GEMMs
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = GRAPH_LEVELS[graph_level]
    options.log_severity_level = 3  # provider fall-back warnings are reported by us, once, in plain words
    return options


def open_runner(
    path: Path,
    *,
    device: str,
    threads: int,
    graph_level: str = "all",
    spin_wait: bool = False,
    tensorrt: bool = False,
) -> Runner:
    """Open ``path`` on ``device`` ("cuda" or "cpu").

    Raises:
        InferError: the graph cannot be loaded, or CUDA was asked for and the session did not get it.
    """
    if device == "cuda":
        providers: list[Any] = [(CUDA, {"cudnn_conv_algo_search": "DEFAULT"}), CPU]
        if tensorrt:
            providers.insert(0, (TENSORRT, {"trt_fp16_enable": True}))
    else:
        providers = [CPU]
    preload_report = ""
    if device == "cuda":
        preload_report = preload_cuda_libraries()
        ort.set_default_logger_severity(4)  # a failed CUDA load logs errors, then falls back; we report it ourselves
    try:
        session = ort.InferenceSession(str(path), session_options(threads, graph_level, spin_wait), providers=providers)
    except ORT_ERRORS as err:
        raise InferError(f"cannot load {path}: {err}") from err
    finally:
        if device == "cuda":
            ort.set_default_logger_severity(2)  # ORT's default: warnings
    if device == "cuda" and CUDA not in session.get_providers():
        loader = f"; library loader said: {preload_report.splitlines()[0]}" if preload_report else ""
        raise InferError(
            f"CUDA was requested but onnxruntime could not create the CUDA provider: this onnxruntime-gpu needs "
            f"CUDA {cuda_build() or '?'} and cuDNN 9 libraries (system-wide, or pip install 'offline-ner[gpu]') "
            f"and an NVIDIA driver new enough for them{loader}; use --device cpu or --device auto to fall back to "
            f"the CPU"
        )
    names = frozenset(node.name for node in session.get_inputs())
    return Runner(session=session, device=device, input_names=names)
