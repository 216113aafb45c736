"""Export: every graph validated against PyTorch before anything is published; tampering is caught (exit 8)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from offline_ner._fs import sha256_file
from offline_ner.cli.main import cli
from offline_ner.data import text_tokenizer
from offline_ner.errors import ExitCode, ExportError, ExportValidationError
from offline_ner.export import MANIFEST_NAME, ExportConfig, export_onnx, read_manifest
from offline_ner.export._graphs import cpu_needs_reduce_range, fusion_problems
from offline_ner.export.manifest_writer import describe_files, hash_mismatches
from offline_ner.export.validate import ValidationReport

pytestmark = pytest.mark.usefixtures("no_network")


def run_cli(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def copy_export(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "onnx"
    shutil.copytree(source, target)
    return target


def test_export_writes_every_graph_with_validation_numbers_and_hashes(tiny_onnx_dir: Path) -> None:
    manifest = read_manifest(tiny_onnx_dir)
    names = {v.name: v for v in manifest.variants}
    assert set(names) == {"fp32", "gpu-fp32", "gpu-fp16", "cpu-int8"}
    validation = {name: variant.validation or {} for name, variant in names.items()}
    for check in validation.values():
        assert check["passed"]
        assert 0 <= check["max_abs_logit_diff"] < float("inf")
    assert validation["fp32"]["max_abs_logit_diff"] < 1e-4
    assert validation["fp32"]["argmax_agreement"] == 1.0
    assert validation["gpu-fp16"]["argmax_agreement"] >= 0.999
    # one fused attention per layer (the tiny BERT has 2) and two skip-LayerNorms per layer
    for gpu in ("gpu-fp32", "gpu-fp16"):
        assert (names[gpu].fused_nodes or {})["Attention"] == 2
        assert (names[gpu].fused_nodes or {})["SkipLayerNormalization"] == 4
    assert isinstance(names["cpu-int8"].reduce_range, bool)
    on_disk = {p.name for p in tiny_onnx_dir.iterdir()} - {MANIFEST_NAME}
    assert set(manifest.files) == on_disk >= {"model.onnx", "tokenizer.json", "config.json", "labels.json"}
    for name, entry in manifest.files.items():
        assert entry.sha256 == sha256_file(tiny_onnx_dir / name)
    assert json.loads((tiny_onnx_dir / "labels.json").read_text()) == list(manifest.labels)


def test_export_records_the_text_tokenizer_inference_must_use(tiny_onnx_dir: Path) -> None:
    recorded = read_manifest(tiny_onnx_dir).text_tokenizer
    assert recorded == text_tokenizer() and recorded["name"] == "spacy-en-conll"
    assert set(recorded) == {"name", "rules", "spacy", "fingerprint"}


def test_cli_export_reports_checks_as_json(tiny_bert_dir: Path, tmp_path: Path) -> None:
    code, doc = run_cli("export", "--model", str(tiny_bert_dir), "-o", str(tmp_path / "out"))
    assert code == 0 and doc["ok"]
    assert [v["name"] for v in doc["variants"]] == ["fp32"]
    assert doc["variants"][0]["validation"]["argmax_agreement"] == 1.0
    assert not any(p.name.startswith(".out.") for p in tmp_path.iterdir()), "staging folder left behind"


def test_tampered_graph_fails_verification_with_exit_8(
    tiny_onnx_dir: Path, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    # a changed weight: both the hash and the logits must give it away
    folder = copy_export(tiny_onnx_dir, tmp_path)
    model = onnx.load(str(folder / "model.onnx"))
    bias = next(init for init in model.graph.initializer if init.name == "classifier.bias")
    values = onnx.numpy_helper.to_array(bias).copy()
    values[0] += 5.0
    bias.CopyFrom(onnx.numpy_helper.from_array(values, "classifier.bias"))
    onnx.save(model, str(folder / "model.onnx"))
    code, doc = run_cli("export", "--model", str(tiny_bert_dir), "-o", str(folder), "--verify-only")
    assert code == ExitCode.EXPORT_VALIDATION == 8
    assert doc["error"]["type"] == "ExportValidationError"
    problems = " ".join(doc["problems"])
    assert "model.onnx: sha256 or size differs" in problems and "Δlogit" in problems


def test_graph_of_another_model_fails_even_with_matching_hashes(
    tiny_onnx_dir: Path, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    # an incompatible graph (other label count) with a regenerated manifest: only the numeric check can catch it
    folder = copy_export(tiny_onnx_dir, tmp_path)
    model = onnx.load(str(folder / "model.onnx"))
    classifier = next(init for init in model.graph.initializer if init.name == "classifier.bias")
    classifier.CopyFrom(onnx.numpy_helper.from_array(np.zeros(5, dtype=np.float32), "classifier.bias"))
    weight_name = next(
        n.input[1] for n in model.graph.node if n.op_type == "MatMul" and n.output[0].startswith("/classifier")
    )
    weight = next(init for init in model.graph.initializer if init.name == weight_name)
    weight.CopyFrom(onnx.numpy_helper.from_array(np.zeros((weight.dims[0], 5), dtype=np.float32), weight_name))
    onnx.save(model, str(folder / "model.onnx"))
    manifest = read_manifest(folder)
    manifest = dataclasses.replace(manifest, files=describe_files(folder, manifest.files))
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest.to_json()))
    code, doc = run_cli("export", "--model", str(tiny_bert_dir), "-o", str(folder), "--verify-only")
    assert code == 8
    assert any("logits shape" in p or "cannot load" in p or "inference failed" in p for p in doc["problems"])
    assert not any("sha256" in p for p in doc["problems"])


def test_failed_validation_publishes_nothing_and_keeps_the_previous_export(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "onnx"
    export_onnx(tiny_bert_dir, out)
    before = (out / MANIFEST_NAME).read_bytes()
    impossible = ExportConfig(int8=True, int8_min_argmax_agreement=1.01)
    with pytest.raises(ExportValidationError) as caught:
        export_onnx(tiny_bert_dir, out, impossible)
    assert caught.value.exit_code == 8
    assert "model_int8.onnx: argmax agreement" in str(caught.value)
    assert (out / MANIFEST_NAME).read_bytes() == before
    assert not (out / "model_int8.onnx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx"], "staging or retired folders left behind"


def test_every_failure_is_collected_before_raising(tiny_bert_dir: Path, tmp_path: Path) -> None:
    strict = ExportConfig(fp16=True, int8=True, fp16_atol=0.0, int8_min_argmax_agreement=1.01)
    with pytest.raises(ExportValidationError) as caught:
        export_onnx(tiny_bert_dir, tmp_path / "onnx", strict)
    report = caught.value.report
    assert isinstance(report, ValidationReport)
    files = {check.file for check in report.checks if not check.passed}
    assert files == {"model_gpu_fp16.onnx", "model_int8.onnx"}
    assert not (tmp_path / "onnx").exists()


def test_folder_without_weights_is_model_not_found(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    code, _ = run_cli("export", "--model", str(tmp_path / "model"), "-o", str(tmp_path / "onnx"))
    assert code == ExitCode.MODEL_NOT_FOUND
    assert not (tmp_path / "onnx").exists()


def test_model_without_iob2_labels_is_refused(tiny_bert_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(9)}
    config["label2id"] = {f"LABEL_{i}": i for i in range(9)}  # both edited: agreeing label files, just not IOB2
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="not IOB2"):
        export_onnx(model, tmp_path / "onnx")


def test_refuses_to_replace_a_folder_that_is_not_an_export(tiny_bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "important.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an export folder"):
        export_onnx(tiny_bert_dir, out)
    assert (out / "important.txt").read_text() == "keep me"


def test_hash_mismatch_names_changed_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"one")
    (tmp_path / "b.bin").write_bytes(b"two")
    files = describe_files(tmp_path, ["a.bin", "b.bin"])
    assert hash_mismatches(tmp_path, files) == []
    (tmp_path / "a.bin").write_bytes(b"ONE")
    (tmp_path / "b.bin").unlink()
    problems = hash_mismatches(tmp_path, files)
    assert problems[0].startswith("a.bin: sha256") and problems[1].startswith("b.bin: listed")


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_manifest_reader_raises_only_export_errors(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    folder = tmp_path_factory.mktemp("m")
    (folder / MANIFEST_NAME).write_bytes(raw)
    try:
        manifest = read_manifest(folder)
    except ExportError:
        return
    assert manifest.variants and manifest.labels


def test_reduce_range_is_chosen_from_cpu_flags(tmp_path: Path) -> None:
    avx2 = tmp_path / "avx2"
    avx2.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    vnni = tmp_path / "vnni"
    vnni.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert cpu_needs_reduce_range(avx2) is True
    assert cpu_needs_reduce_range(vnni) is False
    assert cpu_needs_reduce_range(tmp_path / "absent") is True


def test_unfused_gpu_graph_is_a_problem() -> None:
    counts = {"Attention": 1, "MultiHeadAttention": 0, "SkipLayerNormalization": 2}
    assert len(fusion_problems(counts, num_layers=2)) == 2
    assert fusion_problems({"Attention": 2, "MultiHeadAttention": 0, "SkipLayerNormalization": 4}, 2) == []
