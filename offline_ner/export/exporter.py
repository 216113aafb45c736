"""Export a trained HF token classifier to a validated ONNX folder: graphs, tokenizer, labels, manifest.

Everything is written into a staging folder beside the target; the target is replaced only after every graph
passed validation, so a failed export leaves the previous export (or nothing) in place, never a half-written
folder. This module does the I/O; the rules live in ``manifest.py``, ``_graphs.py`` and ``validate.py``.

Example::

    onnx = export_onnx(Path("runs/model"), Path("runs/onnx"), ExportConfig(fp16=True, int8=True))
    print([variant.file for variant in onnx.variants])
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text, fsync_dir, sha256_file
from offline_ner._quiet_warnings import notes_for_log, notes_for_warnings
from offline_ner.contracts import CPU_INT8, FP32, GPU_FP16, GPU_FP32, PER_ROW, ExportManifest, Variant
from offline_ner.data import is_valid_tag, text_tokenizer
from offline_ner.data.model_card import CARD_NAME
from offline_ner.data.model_labels import agreed_labels
from offline_ner.errors import ExportError, ModelNotFoundError
from offline_ner.export import _graphs
from offline_ner.export._sentences import VALIDATION_SENTENCES
from offline_ner.export.config import ExportConfig
from offline_ner.export.export_card import export_card
from offline_ner.export.manifest_writer import MANIFEST_NAME, build_manifest
from offline_ner.export.validate import load_pytorch, raise_if_failed, reference_logits, validate_graphs

LABELS_NAME = "labels.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# third-party messages shown as one note each (offline_ner/_quiet_warnings.py says why)
TRACER_NOTE = "ONNX export: the tracer warned about shape-dependent Python code; each graph is validated below"
ORT_PREPROCESS_WARNING = "pre-processing before quantization"
ORT_PREPROCESS_NOTE = "int8: quantised without onnxruntime's optional pre-processing; validated against PyTorch below"
# recorded in export.json where installed: one of the two ONNX Runtime builds is (extras predict / gpu)
VERSIONED_PACKAGES = ("onnxruntime", "onnxruntime-gpu", "onnx", "optimum-onnx", "torch", "transformers", "tokenizers",
                      "spacy")


@dataclass(frozen=True)
class OnnxDir:
    """A validated export folder and its manifest."""

    path: Path
    manifest: ExportManifest

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self.manifest.variants


def read_labels(model_dir: Path) -> list[str]:
    """The model's labels in id order, from ``config.json``; they must be IOB2 tags.

    Raises:
        ModelNotFoundError: no config.json or no weights in ``model_dir``.
        ExportError: labels missing, not contiguous, or not IOB2 (the engine decodes B-/I- tags to entities).
        LabelFilesError: the folder's label declarations disagree.
    """
    config_path = model_dir / "config.json"
    if not config_path.is_file() or not any((model_dir / name).is_file() for name in WEIGHT_FILES):
        raise ModelNotFoundError(f"{model_dir}: not a trained model folder (needs config.json and model.safetensors)")
    agreed_labels(model_dir)  # id2label and label2id (and any labels.json) must agree: LabelFilesError
    config = json.loads(config_path.read_text(encoding="utf-8"))
    id2label = {int(key): value for key, value in (config.get("id2label") or {}).items()}
    if sorted(id2label) != list(range(len(id2label))) or not id2label:
        raise ExportError(f"{config_path}: id2label must map 0..N-1 to labels")
    labels = [id2label[i] for i in range(len(id2label))]
    bad = [label for label in labels if not is_valid_tag(label)]
    if bad:
        raise ExportError(
            f"{config_path}: labels {bad} are not IOB2 tags (O, B-TYPE, I-TYPE); retrain with IOB2 labels"
        )
    return labels


def _write_graphs(staging: Path, model_config: Any, cfg: ExportConfig) -> tuple[list[Variant], list[str]]:
    """Derive the requested graphs from ``model.onnx``; returns their variants and any fusion problems."""
    plain = staging / FP32.file
    variants = [Variant.of(FP32)]
    problems: list[str] = []
    shape = {"num_heads": model_config.num_attention_heads, "hidden_size": model_config.hidden_size}
    for wanted, spec in ((cfg.optimize, GPU_FP32), (cfg.fp16, GPU_FP16)):
        if wanted:
            counts = _graphs.write_gpu_graph(plain, staging / spec.file, fp16=spec.precision == "fp16", **shape)
            problems += [f"{spec.file}: {p}" for p in _graphs.fusion_problems(counts, model_config.num_hidden_layers)]
            variants.append(Variant.of(spec, fused_nodes=counts))
    if cfg.int8:
        reduce_range = _graphs.cpu_needs_reduce_range() if cfg.int8_reduce_range is None else cfg.int8_reduce_range
        _graphs.write_int8_graph(plain, staging / CPU_INT8.file, reduce_range=reduce_range)
        variants.append(Variant.of(CPU_INT8, reduce_range=reduce_range, activation_scales=PER_ROW))
    return variants, problems


def _check_target(out_dir: Path, overwrite: bool) -> None:
    """Only an empty folder or an earlier export may be replaced (never a folder of someone's other files)."""
    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).is_file():
            raise ExportError(f"{out_dir} exists and is not an export folder; choose an empty or new folder")
        if not overwrite:
            raise ExportError(f"{out_dir} exists; pass overwrite to replace it")


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _replace_folder(staging: Path, out_dir: Path, overwrite: bool) -> None:
    """Move the finished staging folder to ``out_dir``, replacing an earlier export only."""
    _check_target(out_dir, overwrite)  # again: the folder may have changed during the export
    if out_dir.exists():
        retired = out_dir.with_name(f".{out_dir.name}.old-{staging.name}")
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired)
    else:
        staging.rename(out_dir)
    fsync_dir(out_dir.parent)


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    cfg: ExportConfig | None = None,
    sentences: Sequence[str] | None = None,
) -> OnnxDir:
    """Export, derive the requested graphs, validate them all against PyTorch, then publish ``out_dir``.

    Args:
        model_dir: a trained HF token-classification folder (config.json with IOB2 id2label, tokenizer, weights).
        out_dir: the export folder to create (an earlier export there is replaced after validation).
        cfg: which graphs to write and the tolerances.
        sentences: validation text; the built-in sentences when None.

    Returns:
        The published folder and its manifest (with every graph's validation numbers).

    Raises:
        ModelNotFoundError: ``model_dir`` is not a model folder.
        ExportError: the export or a derived graph could not be produced; ``out_dir`` is not a replaceable folder.
        ExportValidationError: a graph disagrees with PyTorch or lacks its fused nodes; nothing is published.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    labels = read_labels(model_dir)
    cfg = cfg or ExportConfig()
    _check_target(out_dir, cfg.overwrite)
    # only now optimum and torch (10-25 s): a missing model, bad labels or a wrong target fail at once
    import offline_ner.hf_offline  # noqa: F401  (before optimum/transformers)
    # isort: split
    from optimum.exporters.onnx import onnx_export_from_model
    from torch.jit import TracerWarning

    model, tokenizer = load_pytorch(model_dir)
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(f"{model_dir}: no fast tokenizer (tokenizer.json); the inference engine needs one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the published folder private to this user
    try:
        try:
            with notes_for_warnings(TracerWarning, TRACER_NOTE):
                onnx_export_from_model(
                    model, staging, task="token-classification", opset=cfg.opset, do_validation=False,
                    preprocessors=[tokenizer],
                )
        except (ValueError, RuntimeError, KeyError) as err:
            raise ExportError(f"optimum could not export {model_dir}: {err}") from err
        atomic_write_text(staging / LABELS_NAME, json.dumps(labels, indent=2) + "\n")
        with notes_for_log(None, ORT_PREPROCESS_WARNING, ORT_PREPROCESS_NOTE):  # onnxruntime logs to the root logger
            variants, problems = _write_graphs(staging, model.config, cfg)
        reference = reference_logits(model, tokenizer, sentences or VALIDATION_SENTENCES)
        checks = validate_graphs(staging, variants, reference, cfg)
        variants = [replace(variant, validation=check.to_json()) for variant, check in zip(variants, checks)]
        raise_if_failed(checks, problems)
        weights = {name: sha256_file(model_dir / name) for name in ("config.json", *WEIGHT_FILES)
                   if (model_dir / name).is_file()}
        atomic_write_text(staging / CARD_NAME, export_card(model_dir, [v.to_json() for v in variants], labels, weights))
        versions = {name: version for name in VERSIONED_PACKAGES if (version := _installed_version(name))}
        manifest = build_manifest(
            staging, variants=variants, labels=labels,
            source_model={"path": str(model_dir.resolve()), "sha256": weights}, versions=versions,
            text_tokenizer=text_tokenizer(),
        )
        atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
        _replace_folder(staging, out_dir, cfg.overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return OnnxDir(path=out_dir, manifest=manifest)
