"""Creating bundles: reproducible bytes, one layout readable by stock tar, and each kind's source rules."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as Key

from offline_ner.bundle import TrustStore, create_bundle, verify_bundle
from offline_ner.bundle.manifest import loads_manifest
from offline_ner.errors import BundleError, DataError, ExitCode, UnsafePathError
from tests.bundle.simulator import CREATED, NOW, PROVENANCE, records_jsonl


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """What the connected-side exporter writes: records, provenance, QA."""
    out = tmp_path / "export"
    out.mkdir()
    (out / "records.jsonl").write_bytes(records_jsonl())
    (out / "provenance.json").write_text(json.dumps(PROVENANCE))
    (out / "qa.json").write_text('{"dropped": 0}')
    return out


def _create(
    source: Path, out: Path, keys: list[Key], kind: str = "annotations", stream: str = "conll-llm", sequence: int = 1
) -> Path:
    return create_bundle(source, kind=kind, stream=stream, sequence=sequence, keys=keys, out=out, created=CREATED)


def test_identical_input_gives_byte_identical_bundles(export_dir: Path, tmp_path: Path, alice: Key, bob: Key) -> None:
    first = _create(export_dir, tmp_path / "a.bundle", [alice, bob])
    second = _create(export_dir, tmp_path / "b.bundle", [bob, alice])  # key order does not matter either
    assert first.read_bytes() == second.read_bytes()
    (export_dir / "qa.json").write_text('{"dropped": 1}')
    assert _create(export_dir, tmp_path / "c.bundle", [alice]).read_bytes() != first.read_bytes()


def test_bundle_layout_is_plain_ustar_readable_by_stock_tools(export_dir: Path, tmp_path: Path, alice: Key) -> None:
    path = _create(export_dir, tmp_path / "a.bundle", [alice])
    with tarfile.open(path) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == [
        "offline-ner-bundle",
        "envelope.json",
        "payload/provenance.json",
        "payload/qa.json",
        "payload/records.jsonl",
    ]
    assert {(m.uid, m.gid, m.mode, m.mtime, m.type) for m in members} == {
        (0, 0, 0o644, int(CREATED.timestamp()), tarfile.REGTYPE)
    }
    if shutil.which("tar"):
        listing = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout
        assert listing.split() == [m.name for m in members]


def test_annotations_bundle_carries_the_exporter_provenance(
    export_dir: Path, tmp_path: Path, alice: Key, trust: TrustStore
) -> None:
    path = _create(export_dir, tmp_path / "a.bundle", [alice])
    with verify_bundle(path, trust, now=NOW) as verified:
        assert verified.manifest.provenance == {"records": 2, "exporter": PROVENANCE}
        assert (verified.payload_dir / "records.jsonl").read_bytes() == records_jsonl()


@pytest.mark.parametrize("suffix", [".jsonl", ".conll"])
def test_plain_label_file_is_wrapped_into_records_jsonl(
    tmp_path: Path, alice: Key, trust: TrustStore, suffix: str
) -> None:
    source = tmp_path / f"labels{suffix}"
    if suffix == ".jsonl":
        source.write_bytes(records_jsonl())
    else:
        source.write_text("Alice B-PER\nflew O\n\nAcme B-ORG\nCorp I-ORG\n")
    path = _create(source, tmp_path / "a.bundle", [alice])
    with verify_bundle(path, trust, now=NOW) as verified:
        assert sorted(p.name for p in verified.payload_dir.iterdir()) == ["provenance.json", "records.jsonl"]
        assert verified.manifest.provenance["records"] == 2
        assert verified.manifest.provenance["imported_from"]["format"] == suffix[1:]


def test_malformed_records_are_refused_at_creation(export_dir: Path, tmp_path: Path, alice: Key) -> None:
    (export_dir / "records.jsonl").write_text('{"id": "1", "tokens": ["a"], "tags": ["B-XYZ", "O"]}\n')
    with pytest.raises(DataError):
        _create(export_dir, tmp_path / "a.bundle", [alice])
    assert not (tmp_path / "a.bundle").exists()


def test_stray_file_in_an_export_folder_is_refused(export_dir: Path, tmp_path: Path, alice: Key) -> None:
    (export_dir / "notes.txt").write_text("hi")
    with pytest.raises(BundleError, match="notes.txt"):
        _create(export_dir, tmp_path / "a.bundle", [alice])


def test_model_folder_becomes_a_model_bundle(tiny_bert_dir: Path, tmp_path: Path, alice: Key) -> None:
    trust = TrustStore(path=tmp_path / "trust.json")
    trust.set_role("release", threshold=1, kinds=["model", "runtime"])
    trust.add_key(alice.public_key(), roles=["release"])
    path = _create(tiny_bert_dir, tmp_path / "m.bundle", [alice], kind="model", stream="tiny-bert")
    with verify_bundle(path, trust, now=NOW) as verified:
        assert verified.manifest.provenance["model_type"] == "bert"
        assert verified.manifest.provenance["weights"] == ["model.safetensors"]
        assert (verified.payload_dir / "config.json").is_file()


def test_model_folder_with_pickle_weights_is_refused(tiny_bert_dir: Path, tmp_path: Path, alice: Key) -> None:
    source = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, source)
    (source / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(BundleError, match="pickle"):
        _create(source, tmp_path / "m.bundle", [alice], kind="model", stream="tiny-bert")


def test_model_folder_from_a_hub_cache_snapshot_follows_its_symlinks(
    tiny_bert_dir: Path, tmp_path: Path, alice: Key
) -> None:
    snapshot = tmp_path / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for file in tiny_bert_dir.iterdir():
        (snapshot / file.name).symlink_to(file)
    path = _create(snapshot, tmp_path / "m.bundle", [alice], kind="model", stream="tiny-bert")
    with tarfile.open(path) as archive:
        assert all(m.isfile() for m in archive.getmembers())
        size = archive.getmember("payload/model.safetensors").size
    assert size == (tiny_bert_dir / "model.safetensors").stat().st_size


def test_model_folder_with_case_colliding_names_is_refused(tiny_bert_dir: Path, tmp_path: Path, alice: Key) -> None:
    source = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, source)
    (source / "Config.json").write_text("{}")
    with pytest.raises(UnsafePathError) as info:
        _create(source, tmp_path / "m.bundle", [alice], kind="model", stream="tiny-bert")
    assert info.value.exit_code == ExitCode.UNSAFE_PATH


@pytest.mark.parametrize(("stream", "sequence"), [("../up", 1), ("", 1), ("ok", 0), ("ok", -3)])
def test_bad_stream_or_sequence_is_refused(
    export_dir: Path, tmp_path: Path, alice: Key, stream: str, sequence: int
) -> None:
    with pytest.raises(BundleError):
        _create(export_dir, tmp_path / "a.bundle", [alice], stream=stream, sequence=sequence)


def test_manifest_in_bundle_is_canonical_and_lists_files_sorted(export_dir: Path, tmp_path: Path, alice: Key) -> None:
    path = _create(export_dir, tmp_path / "a.bundle", [alice])
    with tarfile.open(path) as archive:
        envelope = json.loads(archive.extractfile("envelope.json").read())  # type: ignore[union-attr]
    manifest = loads_manifest(base64.b64decode(envelope["payload"]))
    assert [e.path for e in manifest.files] == ["provenance.json", "qa.json", "records.jsonl"]
