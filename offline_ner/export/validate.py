"""Compare exported graphs with the PyTorch model on real sentences; collect every failure, then raise once.

For each graph listed in the manifest: it must open in ONNX Runtime, take only BERT's inputs, return logits with
one column per label, and agree with PyTorch within the precision's tolerance (max |Δlogit| over real tokens,
padding excluded) and on the argmax label. File hashes are checked against the manifest too. Every problem is
reported; :class:`ExportValidationError` (``ExitCode.EXPORT_VALIDATION``) is raised after all checks ran (optimum's ``_run_validation``).

Example::

    checks = validate_export(Path("onnx/"), Path("model/"), ExportConfig())   # raises on any failure
    print(checks[0].max_abs_logit_diff)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from offline_ner.contracts import Variant
from offline_ner.errors import ExportValidationError
from offline_ner.export._sentences import VALIDATION_SENTENCES
from offline_ner.export.config import ExportConfig
from offline_ner.export.manifest_writer import hash_mismatches, read_manifest

BERT_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})


def _ort_errors() -> tuple[type[BaseException], ...]:
    """ORT's own exception classes (pybind, not RuntimeError subclasses): each means "this graph is unusable"."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidGraph", "InvalidArgument", "NoSuchFile", "InvalidProtobuf", "RuntimeException")
    return (RuntimeError, ValueError, *(getattr(state, name) for name in names))


@dataclass(frozen=True)
class GraphCheck:
    """One graph's validation: the numbers, and what (if anything) was wrong."""

    file: str
    precision: str
    sentences: int
    tokens: int
    max_abs_logit_diff: float
    argmax_agreement: float
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": list(self.problems), "passed": self.passed}


@dataclass(frozen=True)
class ValidationReport:
    """Every graph's check and every problem found; carried by :class:`ExportValidationError` as ``report``."""

    checks: tuple[GraphCheck, ...]
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"checks": [c.to_json() for c in self.checks], "problems": list(self.problems)}


@dataclass(frozen=True)
class Reference:
    """PyTorch's logits on the validation sentences, with the inputs that produced them."""

    inputs: dict[str, np.ndarray]
    logits: np.ndarray
    mask: np.ndarray  # True on real (non-padding) tokens


def load_pytorch(model_dir: Path) -> tuple[Any, Any]:
    """The HF token classifier (eval mode) and its fast tokenizer, from disk only."""
    import offline_ner.hf_offline  # noqa: F401  (before transformers: never reach for the hub)
    # isort: split
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, use_fast=True)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, local_files_only=True).eval()
    return model, tokenizer


def reference_logits(model: Any, tokenizer: Any, sentences: Sequence[str]) -> Reference:
    """Run the PyTorch model on ``sentences`` padded into one batch (padding exercises the attention mask)."""
    import torch

    encoded = tokenizer(list(sentences), padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits.float().numpy()
    inputs = {name: tensor.numpy() for name, tensor in encoded.items()}
    return Reference(inputs=inputs, logits=logits, mask=inputs["attention_mask"].astype(bool))


def check_graph(path: Path, precision: str, reference: Reference, *, atol: float, min_agreement: float) -> GraphCheck:
    """Run one graph on the reference inputs and compare; never raises for a bad graph, returns its problems."""
    import onnxruntime as ort

    sentences, tokens = reference.mask.shape[0], int(reference.mask.sum())
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except _ort_errors() as err:
        return GraphCheck(path.name, precision, sentences, tokens, float("inf"), 0.0, (f"cannot load: {err}",))
    names = {node.name for node in session.get_inputs()}
    problems = [f"unexpected graph input {name!r}" for name in sorted(names - BERT_INPUTS)]
    if "input_ids" not in names:
        problems.append("graph has no input_ids input")
    if problems:
        return GraphCheck(path.name, precision, sentences, tokens, float("inf"), 0.0, tuple(problems))
    feed = {name: array.astype(np.int64) for name, array in reference.inputs.items() if name in names}
    try:
        logits = np.asarray(session.run(None, feed)[0], dtype=np.float32)
    except _ort_errors() as err:
        return GraphCheck(path.name, precision, sentences, tokens, float("inf"), 0.0, (f"inference failed: {err}",))
    if logits.shape != reference.logits.shape:
        shape = (f"logits shape {logits.shape}, PyTorch gives {reference.logits.shape} (different labels or graph?)",)
        return GraphCheck(path.name, precision, sentences, tokens, float("inf"), 0.0, shape)
    diff = float(np.abs(logits - reference.logits)[reference.mask].max())
    agreement = float((logits.argmax(-1) == reference.logits.argmax(-1))[reference.mask].mean())
    if not diff <= atol and precision != "int8":  # int8 moves logits by design: judged on the argmax only
        problems.append(f"max |Δlogit| {diff:.3g} exceeds {atol:g}")
    if agreement < min_agreement:
        problems.append(f"argmax agreement {agreement:.4f} below {min_agreement}")
    return GraphCheck(path.name, precision, sentences, tokens, diff, agreement, tuple(problems))


def tolerances(precision: str, cfg: ExportConfig) -> dict[str, float]:
    """``atol`` and ``min_agreement`` for a graph precision."""
    if precision == "int8":
        return {"atol": float("inf"), "min_agreement": cfg.int8_min_argmax_agreement}
    atol = cfg.fp16_atol if precision == "fp16" else cfg.fp32_atol
    return {"atol": atol, "min_agreement": cfg.min_argmax_agreement}


def validate_graphs(
    folder: Path, variants: Sequence[Variant], reference: Reference, cfg: ExportConfig
) -> list[GraphCheck]:
    """Check each variant's graph; returns every check, passed or not (the caller decides to raise)."""
    return [
        check_graph(folder / v.file, v.precision, reference, **tolerances(v.precision, cfg)) for v in variants
    ]


def raise_if_failed(checks: Sequence[GraphCheck], extra_problems: Sequence[str] = ()) -> None:
    """Raise one :class:`ExportValidationError` listing every failure; ``err.report`` holds all checks."""
    problems = list(extra_problems) + [f"{c.file}: {p}" for c in checks for p in c.problems]
    if problems:
        raise ExportValidationError(
            f"{len(problems)} validation failure(s): " + "; ".join(problems) + ". The graph does not match the "
            "PyTorch model; re-export from the original model folder.",
            report=ValidationReport(tuple(checks), tuple(problems)),
        )


def validate_export(
    onnx_dir: Path, model_dir: Path, cfg: ExportConfig | None = None, sentences: Sequence[str] | None = None
) -> list[GraphCheck]:
    """Re-validate an existing export folder against its PyTorch model: hashes, then every graph.

    Args:
        onnx_dir: a folder written by :func:`~offline_ner.export.export_onnx`.
        model_dir: the HF model folder it was exported from.
        cfg: tolerances.
        sentences: validation text; the built-in sentences when None.

    Returns:
        One passed :class:`GraphCheck` per graph.

    Raises:
        ExportError: no readable manifest.
        ExportValidationError: a file changed after export, or a graph disagrees with PyTorch.
    """
    onnx_dir, model_dir = Path(onnx_dir), Path(model_dir)
    manifest = read_manifest(onnx_dir)
    mismatches = hash_mismatches(onnx_dir, manifest.files)
    reference = reference_logits(*load_pytorch(model_dir), sentences or VALIDATION_SENTENCES)
    checks = validate_graphs(onnx_dir, manifest.variants, reference, cfg or ExportConfig())
    raise_if_failed(checks, mismatches)
    return checks
