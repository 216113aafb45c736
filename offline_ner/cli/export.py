"""``offline-ner export``: a trained model folder -> a validated ONNX folder (thin layer over export_onnx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.contracts import CPU_INT8, GPU_FP16, GPU_FP32


def _read_sentences(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    sentences = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sentences:
        raise click.BadParameter(f"{path} holds no sentences", param_hint="--sentences")
    return sentences


def _summary(checks: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for check in checks:
        lines.append(
            f"  {check['file']:<22} {check['precision']:<5} max|Δlogit| {check['max_abs_logit_diff']:.2e}  "
            f"argmax agreement {check['argmax_agreement']:.4f}  ({check['tokens']} tokens)"
        )
    return "\n".join(lines)


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path), help="Trained HF model folder.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path), help="Export folder.")
@click.option(GPU_FP32.flag, is_flag=True, help=f"Also write {GPU_FP32.file}: attention/LayerNorm/GELU fused for CUDA.")
@click.option(GPU_FP16.flag, is_flag=True, help=f"Also write {GPU_FP16.file}: the fused graph in half precision (GPU).")
@click.option(CPU_INT8.flag, is_flag=True,
              help=f"Also write {CPU_INT8.file}: int8 for CPU, activations scaled per row (batch-independent).")
@click.option(
    "--sentences", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Validation text, one sentence per line (default: built-in sentences).",
)
@click.option(
    "--verify-only", is_flag=True, help="Re-validate the existing export in -o against --model; write nothing."
)
@json_option
@handles_errors
def export(
    model_dir: Path, out_dir: Path, optimize: bool, fp16: bool, int8: bool, sentences: Path | None,
    verify_only: bool, as_json: bool,
) -> None:
    """Export a trained model to ONNX and validate every graph against PyTorch.

    Writes model.onnx (+ the graphs asked for), the tokenizer, config.json, labels.json and export.json (sha256
    of every file, each graph's max |Δlogit| and argmax agreement). Nothing is published unless every graph
    passes; a failure lists every problem and exits with the export-validation code below.

    Example:

    \b
        offline-ner export --model runs/model -o runs/onnx --fp16 --int8
    """
    from offline_ner.export import ExportConfig, export_onnx, validate_export

    text = _read_sentences(sentences)
    if verify_only:
        checks = [c.to_json() for c in validate_export(out_dir, model_dir, sentences=text)]
        emit({"output": str(out_dir), "checks": checks}, as_json, f"{out_dir}: export verified\n{_summary(checks)}")
        return
    cfg = ExportConfig(optimize=optimize, fp16=fp16, int8=int8)
    click.echo(f"exporting {model_dir} -> {out_dir} ...", err=True)
    result = export_onnx(model_dir, out_dir, cfg, sentences=text)
    variants = [variant.to_json() for variant in result.variants]
    emit(
        {"output": str(out_dir), "variants": variants, "files": sorted(result.manifest.files)},
        as_json,
        f"{out_dir}: exported and validated\n{_summary([v.validation or {} for v in result.variants])}",
    )
