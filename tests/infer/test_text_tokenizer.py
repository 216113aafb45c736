"""The text tokenizer is part of the model: an export recording another one (or none) is refused for raw text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data import text_tokenizer
from offline_ner.errors import ExitCode, InferError
from offline_ner.infer import NerEngine

pytestmark = pytest.mark.usefixtures("no_network")


def with_recorded_tokenizer(source: Path, tmp_path: Path, recorded: dict | None) -> Path:
    """A copy of an export whose export.json records ``recorded`` as its text tokenizer (None: no record)."""
    folder = tmp_path / "onnx"
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "export.json").read_text())
    manifest.pop("text_tokenizer")
    if recorded is not None:
        manifest["text_tokenizer"] = recorded
    (folder / "export.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fingerprint": "0123456789abcdef"}, "fingerprint differ"),
        ({"rules": 0}, "rules differ"),
        ({"name": "regex-v0"}, "name differ"),
        (None, "records no text tokenizer"),
    ],
)
def test_export_recording_another_text_tokenizer_is_refused_for_raw_text(
    tiny_onnx_dir: Path, tmp_path: Path, change: dict | None, reason: str
) -> None:
    recorded = None if change is None else {**text_tokenizer(), **change}
    folder = with_recorded_tokenizer(tiny_onnx_dir, tmp_path, recorded)
    other = NerEngine(folder, device="cpu")
    with pytest.raises(InferError, match=reason) as caught:
        list(other.predict(["Angela Merkel visited Paris."]))
    assert caught.value.exit_code == ExitCode.INFER and "re-export" in str(caught.value)
    assert other.stats.documents == 0
    # pre-tokenised input needs no text tokenizer: CoNLL words go in as they are
    assert [len(tags) for tags in other.predict_tokens([["Angela", "Merkel"]])] == [2]


def test_another_spacy_version_that_tokenises_the_same_is_accepted(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    folder = with_recorded_tokenizer(tiny_onnx_dir, tmp_path, {**text_tokenizer(), "spacy": "3.8.0"})
    assert len(list(NerEngine(folder, device="cpu").predict(["Angela Merkel visited Paris."]))) == 1


def test_predict_cli_exits_9_and_writes_nothing_for_another_tokenizer(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    folder = with_recorded_tokenizer(tiny_onnx_dir, tmp_path, {**text_tokenizer(), "rules": 0})
    (tmp_path / "docs.txt").write_text("Angela Merkel visited Paris.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", "--model", str(folder), "--input", str(tmp_path / "docs.txt"),
                                      "-o", str(out), "--device", "cpu"])
    assert result.exit_code == ExitCode.INFER == 9
    assert "rules differ" in result.stderr and not out.exists()
