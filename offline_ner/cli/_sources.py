"""Where the closed side's data and base models come from: a local path or an imported bundle.

A source is a CoNLL/JSONL path or folder, or ``bundle:<stream>[@<sequence>]/<path>`` naming a file of a verified,
imported bundle in the content store (``offline-ner bundle import``). Only the CLI knows both the bundle and the
train stages, so the translation lives here.

Example::

    resolve_source("bundle:conll-llm/records.jsonl", store)   # -> <store>/objects/<digest>/payload/records.jsonl
"""

from __future__ import annotations

from pathlib import Path

BUNDLE_PREFIX = "bundle:"


def is_bundle_reference(ref: str) -> bool:
    return ref.startswith(BUNDLE_PREFIX)


def resolve_source(ref: str, store: Path) -> Path:
    """The local path behind ``ref``; bundle references are looked up in ``store`` (never fetched)."""
    if is_bundle_reference(ref):
        from offline_ner.bundle import resolve_reference

        return resolve_reference(ref, store.expanduser())
    return Path(ref).expanduser()
