"""Base model resolution: packaged names and folders resolve from disk; anything else fails without a download."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offline_ner.errors import ExitCode, ModelNotFoundError
from offline_ner.train import resolve_base_model
from tests.conftest import minilm_dir


def test_packaged_minilm_name_resolves_to_the_wheel_folder(no_network: None) -> None:
    assert resolve_base_model("minilm-l6-uncased") == minilm_dir()


def test_model_folder_path_resolves_to_itself(tiny_bert_dir: Path, no_network: None) -> None:
    assert resolve_base_model(tiny_bert_dir) == tiny_bert_dir


@pytest.mark.parametrize("name", ["bert-base-cased", "sentence-transformers/all-MiniLM-L6-v2", "/no/such/folder"])
def test_hub_name_or_missing_folder_raises_model_not_found(name: str, no_network: None) -> None:
    with pytest.raises(ModelNotFoundError, match="never downloaded") as err:
        resolve_base_model(name)
    assert err.value.exit_code == ExitCode.MODEL_NOT_FOUND == 5


@pytest.mark.parametrize(("removed", "named"), [("model.safetensors", "weights"), ("config.json", "config.json")])
def test_incomplete_folder_names_what_is_missing(tiny_bert_dir: Path, tmp_path: Path, removed: str, named: str) -> None:
    copy = Path(shutil.copytree(tiny_bert_dir, tmp_path / "model"))
    (copy / removed).unlink()
    with pytest.raises(ModelNotFoundError, match=named):
        resolve_base_model(copy)
