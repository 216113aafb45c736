"""Hypothesis fuzzing of the parsers that see hostile bytes: manifest, envelope, tar headers, path rules.

Properties: they raise nothing but our BundleError family; whatever they accept round-trips exactly; any path
the rules accept, joined to a staging folder and created there, stays inside that folder.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from offline_ner.bundle import TrustStore, verify_bundle
from offline_ner.bundle._tar import BLOCK, parse_header, parse_pax
from offline_ner.bundle.envelope import loads_envelope
from offline_ner.bundle.manifest import (
    FileEntry,
    Manifest,
    canonical_json_bytes,
    check_path,
    check_paths,
    collision_key,
    dumps_manifest,
    loads_manifest,
)
from offline_ner.errors import BundleError, UnsafePathError
from tests.bundle.simulator import NOW, BundleSimulator, fixed_key

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
path_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40) | st.lists(
    st.sampled_from(["a", "..", ".", "", "B", "é", "e\u0301", "\\", ":", "\0", "x y", "/"]), min_size=1, max_size=6
).map("/".join)


@given(st.binary(max_size=600))
@example(b'{"format": "offline-ner-bundle/1"}')
@example(b"[" * 100_000)
@example(b'{"a": NaN}')
def test_manifest_loader_raises_only_bundle_errors_on_bytes(data: bytes) -> None:
    try:
        manifest = loads_manifest(data)
    except BundleError:
        return
    assert dumps_manifest(manifest) == data


@given(
    st.dictionaries(
        st.sampled_from(
            ["format", "kind", "stream", "sequence", "created", "expires", "producer", "provenance", "files", "extra"]
        ),
        json_values,
        max_size=10,
    )
)
def test_manifest_loader_raises_only_bundle_errors_on_json(fields: dict[str, object]) -> None:
    try:
        data = canonical_json_bytes(fields)
    except ValueError:
        return
    try:
        manifest = loads_manifest(data)
    except BundleError:
        return
    assert dumps_manifest(manifest) == data


def _mutated_manifests() -> st.SearchStrategy[dict[str, object]]:
    base = BundleSimulator(root=Path("."), signers=[]).manifest_dict()
    keys = sorted(base)
    return st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**base, kv[0]: kv[1]})


@given(_mutated_manifests())
def test_one_field_changed_to_any_json_value_is_accepted_or_refused_cleanly(fields: dict[str, object]) -> None:
    try:
        manifest = loads_manifest(canonical_json_bytes(fields))
    except BundleError:
        return
    assert canonical_json_bytes(fields) == dumps_manifest(manifest)


manifest_paths = st.lists(
    st.text(st.characters(categories=["L", "N"], include_characters="-_."), min_size=1, max_size=12),
    min_size=1,
    max_size=3,
).map("/".join)


@given(
    st.lists(st.tuples(manifest_paths, st.integers(0, 2**40), st.binary(min_size=32, max_size=32)), max_size=5),
    st.integers(1, 2**53 - 1),
)
def test_valid_manifest_round_trips(files: list[tuple[str, int, bytes]], sequence: int) -> None:
    entries = tuple(sorted((FileEntry(p, size, digest.hex()) for p, size, digest in files), key=lambda e: e.path))
    manifest = Manifest(
        kind="model", stream="s", sequence=sequence, files=entries, created=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    try:
        check_paths(entry.path for entry in entries)
    except UnsafePathError:
        return
    assert loads_manifest(dumps_manifest(manifest)) == manifest


@given(path_text)
@example("../x")
@example("a/../../x")
@example("/etc/passwd")
@example("C:\\x")
@example("a\0b")
@example("con/./x")
@example("\u202eexe.txt")
def test_any_accepted_path_stays_inside_staging(path: str) -> None:
    try:
        check_path(path)
    except UnsafePathError:
        return
    with tempfile.TemporaryDirectory() as staging:
        target = Path(staging) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
        real = os.path.realpath(target)
        assert real.startswith(os.path.realpath(staging) + os.sep)
        assert real == os.path.join(os.path.realpath(staging), *path.split("/"))


@given(st.lists(path_text, max_size=5))
def test_accepted_path_sets_never_collide(paths: list[str]) -> None:
    try:
        check_paths(paths)
    except UnsafePathError:
        return
    keys = [collision_key(p) for p in paths]
    assert len(set(keys)) == len(keys)
    assert not any(k.startswith(other + "/") for k in keys for other in keys)


@given(st.binary(min_size=BLOCK, max_size=BLOCK))
def test_tar_header_parser_raises_only_bundle_errors(block: bytes) -> None:
    try:
        member = parse_header(block, 0)
    except BundleError:
        return
    assert member.size >= 0


@given(st.binary(max_size=400) | json_values.map(canonical_json_bytes))
@settings(max_examples=200)
def test_envelope_loader_raises_only_bundle_errors(data: bytes) -> None:
    try:
        loads_envelope(data, max_bytes=1 << 20)
    except BundleError:
        pass


@pytest.fixture(scope="module")
def valid_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, TrustStore]:
    root = tmp_path_factory.mktemp("fuzz-bundle")
    trust = TrustStore()
    trust.set_role("annotator", threshold=1, kinds=["annotations"])
    trust.add_key(fixed_key(1).public_key(), roles=["annotator"])
    return BundleSimulator(root=root, signers=[fixed_key(1)]).write().read_bytes(), trust


@given(position=st.integers(min_value=0), xor=st.integers(min_value=1, max_value=255))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_single_byte_change_to_a_valid_bundle_is_rejected(
    valid_bundle: tuple[bytes, TrustStore], position: int, xor: int
) -> None:
    # a bundle has exactly one byte form (canonical headers, padding, envelope, manifest; nothing after the end)
    data, trust = valid_bundle
    position %= len(data)
    changed = data[:position] + bytes([data[position] ^ xor]) + data[position + 1 :]
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "changed.bundle"
        path.write_bytes(changed)
        with pytest.raises(BundleError):
            verify_bundle(path, trust, now=NOW, staging_root=Path(work) / "staging")
        assert list((Path(work) / "staging").iterdir()) == []


@given(st.binary(max_size=300))
@example(b"0 path=x\n")
@example(b"5 p=\n")
@example(b"99999999999999999999 path=x\n")
def test_pax_record_parser_raises_only_bundle_errors(data: bytes) -> None:
    try:
        records = parse_pax(data, 0)
    except BundleError:
        return
    assert set(records) <= {"path", "size"}
