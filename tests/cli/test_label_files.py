"""Labels live in labels.json, config.json (id2label, label2id) and export.json: loading refuses a folder where
one was edited and the others were not, instead of silently printing the names of whichever file it reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data.model_labels import agreed_labels
from offline_ner.errors import ExitCode, LabelFilesError
from tests.conftest import CONLL_LABELS


def swap_first_two_types(labels: list[str]) -> list[str]:
    """B-PER <-> B-ORG: the kind of hand edit that changes what a model's output is called."""
    edited = list(labels)
    a, b = edited.index("B-PER"), edited.index("B-ORG")
    edited[a], edited[b] = edited[b], edited[a]
    return edited


def edit_json(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")


@pytest.fixture
def onnx_copy(tiny_onnx_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_onnx_dir, tmp_path / "onnx"))


@pytest.fixture
def model_copy(tiny_bert_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_bert_dir, tmp_path / "model"))


def test_untouched_export_folder_declares_one_label_list_in_four_places(tiny_onnx_dir: Path) -> None:
    from offline_ner.data.model_labels import declared_labels

    assert set(declared_labels(tiny_onnx_dir).values()) == {tuple(CONLL_LABELS)}
    assert agreed_labels(tiny_onnx_dir) == tuple(CONLL_LABELS)


def test_predict_refuses_an_export_whose_labels_json_was_edited(onnx_copy: Path, tmp_path: Path) -> None:
    edit_json(onnx_copy / "labels.json", swap_first_two_types)
    (tmp_path / "in.txt").write_text("Angela Merkel visited Paris.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["predict", "--model", str(onnx_copy), "--input", str(tmp_path / "in.txt"),
                                      "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == ExitCode.LABEL_FILES, result.output
    assert "labels.json disagrees with export.json labels" in result.stderr
    assert "'B-PER'" in result.stderr and "'B-ORG'" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_engine_refuses_an_export_whose_config_id2label_was_edited(onnx_copy: Path) -> None:
    from offline_ner.infer import NerEngine

    def edit(config: dict) -> dict:  # type: ignore[type-arg]
        config["id2label"] = dict(enumerate(swap_first_two_types(CONLL_LABELS)))
        return config

    edit_json(onnx_copy / "config.json", edit)
    with pytest.raises(LabelFilesError, match="config.json id2label disagrees"):
        NerEngine(onnx_copy)


def test_evaluate_and_export_refuse_a_model_whose_label2id_was_edited(model_copy: Path, tmp_path: Path) -> None:
    def edit(config: dict) -> dict:  # type: ignore[type-arg]
        config["label2id"] = {label: i for i, label in enumerate(swap_first_two_types(CONLL_LABELS))}
        return config

    edit_json(model_copy / "config.json", edit)
    data = tmp_path / "dev.conll"
    data.write_text("Merkel B-PER\nvisited O\nParis B-LOC\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(model_copy), "--data", str(data)])
    assert result.exit_code == ExitCode.LABEL_FILES, result.output
    assert "config.json label2id disagrees with config.json id2label" in result.stderr
    result = CliRunner().invoke(cli, ["export", "--model", str(model_copy), "-o", str(tmp_path / "onnx")])
    assert result.exit_code == ExitCode.LABEL_FILES, result.output
    assert not (tmp_path / "onnx").exists()


def test_unreadable_labels_json_is_a_label_files_error(onnx_copy: Path) -> None:
    (onnx_copy / "labels.json").write_text("[\"O\", ", encoding="utf-8")
    with pytest.raises(LabelFilesError, match="labels.json: cannot read it as JSON"):
        agreed_labels(onnx_copy)
