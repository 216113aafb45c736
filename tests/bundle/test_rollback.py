"""Rollback and replay: a stream only moves forward, the very same bundle again changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline_ner.bundle import TrustStore, import_bundle
from offline_ner.errors import ExitCode, RollbackError
from tests.bundle.simulator import NOW, BundleSimulator, Verifier, snapshot


def _import(bundle: Path, trust: TrustStore, store: Path):
    return import_bundle(bundle, trust, store, now=NOW)


def _bundle(sim: BundleSimulator, sequence: int, note: str = "") -> Path:
    sim.fields["sequence"] = sequence
    sim.files["qa.json"] = f'{{"note": "{note or sequence}"}}'.encode()
    return sim.write(name=f"seq{sequence}{note}.bundle")


def test_older_sequence_is_rejected_as_rollback(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path, verifier: Verifier
) -> None:
    store = tmp_path / "store"
    old, new = _bundle(sim, 1), _bundle(sim, 2)
    _import(new, trust, store)
    before = snapshot(tmp_path)
    with pytest.raises(RollbackError) as info:
        _import(old, trust, store)
    assert info.value.exit_code == ExitCode.ROLLBACK
    assert snapshot(tmp_path) == before, "a refused import must leave the store and trust store untouched"
    assert TrustStore.load(trust.path).streams["conll-llm"].sequence == 2
    verifier.rejects(old, ExitCode.ROLLBACK)  # plain verification applies the same ratchet


def test_same_sequence_with_different_content_is_rejected(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    _import(_bundle(sim, 3), trust, store)
    with pytest.raises(RollbackError):
        _import(_bundle(sim, 3, note="other"), trust, store)


def test_reimporting_the_same_bundle_is_a_no_op(sim: BundleSimulator, trust: TrustStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    bundle = _bundle(sim, 1)
    first = _import(bundle, trust, store)
    before = snapshot(tmp_path)
    again = _import(bundle, TrustStore.load(trust.path), store)
    assert (first.already_imported, again.already_imported) == (False, True)
    assert again.payload_dir == first.payload_dir
    assert snapshot(tmp_path) == before


def test_replaying_the_first_bundle_after_a_newer_one_is_rejected(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    first = _bundle(sim, 1)
    _import(first, trust, store)
    _import(_bundle(sim, 2), trust, store)
    with pytest.raises(RollbackError):
        _import(first, trust, store)


def test_newer_sequence_advances_the_stream(sim: BundleSimulator, trust: TrustStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _import(_bundle(sim, 1), trust, store)
    result = _import(_bundle(sim, 5), trust, store)
    assert TrustStore.load(trust.path).streams["conll-llm"].sequence == 5
    assert result.sequence == 5


def test_streams_ratchet_independently(sim: BundleSimulator, trust: TrustStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _import(_bundle(sim, 9), trust, store)
    sim.fields["stream"] = "bbc-llm"
    _import(_bundle(sim, 1, note="bbc"), trust, store)
    assert {s: st.sequence for s, st in TrustStore.load(trust.path).streams.items()} == {"bbc-llm": 1, "conll-llm": 9}
