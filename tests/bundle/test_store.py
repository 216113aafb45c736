"""Import into the content store and resolve references, with the network blocked (the closed side has none)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, create_bundle, import_bundle, resolve_reference, verify_bundle
from offline_ner.data import read_jsonl
from offline_ner.errors import BundleError, ExitCode, HashMismatchError, MissingFileError
from tests.bundle.simulator import CREATED, NOW, BundleSimulator, snapshot


@pytest.mark.usefixtures("no_network")
def test_verify_and_import_run_with_the_network_blocked(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    bundle = sim.write()
    with verify_bundle(bundle, trust, now=NOW) as verified:
        assert verified.report.verified
    result = import_bundle(bundle, trust, tmp_path / "store", now=NOW)
    records = read_jsonl(resolve_reference("bundle:conll-llm/records.jsonl", tmp_path / "store"))
    assert [r.id for r in records] == ["d1-s0", "d1-s1"]
    assert resolve_reference("bundle:conll-llm@1/", tmp_path / "store") == result.payload_dir


def test_imported_payload_is_read_only_and_keeps_its_envelope(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    result = import_bundle(sim.write(), trust, tmp_path / "store", now=NOW)
    records = result.payload_dir / "records.jsonl"
    assert records.stat().st_mode & 0o222 == 0
    assert (result.payload_dir.parent / "envelope.json").read_bytes() == sim.envelope_bytes()
    assert list((tmp_path / "store" / ".staging").iterdir()) == []


def test_failed_import_leaves_store_and_trust_store_untouched(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    import_bundle(sim.write(name="good.bundle"), trust, store, now=NOW)
    sim.fields["sequence"] = 2
    bad = sim.write(sim.with_member("payload/qa.json", data=b'{"dropped": 666}'), name="bad.bundle")
    before = snapshot(tmp_path)
    with pytest.raises(HashMismatchError):
        import_bundle(bad, trust, store, now=NOW)
    assert snapshot(tmp_path) == before
    assert trust.streams["conll-llm"].sequence == 1


def test_model_bundle_resolves_to_a_folder_transformers_loads_offline(
    tiny_bert_dir: Path, tmp_path: Path, alice: Ed25519PrivateKey, no_network: None
) -> None:
    from transformers import AutoModelForTokenClassification

    trust = TrustStore(path=tmp_path / "trust.json")
    trust.set_role("release", threshold=1, kinds=["model"])
    trust.add_key(alice.public_key(), roles=["release"])
    trust.save()  # import_bundle re-reads the store under its lock
    bundle = create_bundle(
        tiny_bert_dir,
        kind="model",
        stream="tiny-bert",
        sequence=1,
        keys=[alice],
        out=tmp_path / "m.bundle",
        created=CREATED,
    )
    import_bundle(bundle, trust, tmp_path / "store", now=NOW)
    folder = resolve_reference("bundle:tiny-bert/", tmp_path / "store")
    model = AutoModelForTokenClassification.from_pretrained(folder, local_files_only=True)
    assert model.config.num_labels == 9


@pytest.mark.parametrize(
    ("reference", "exit_code"),
    [
        ("conll-llm/records.jsonl", ExitCode.BUNDLE_FORMAT),
        ("bundle:conll-llm", ExitCode.BUNDLE_FORMAT),
        ("bundle:conll-llm/../../../etc/passwd", ExitCode.BUNDLE_FORMAT),
        ("bundle:conll-llm//etc/passwd", ExitCode.BUNDLE_FORMAT),
        ("bundle:other/records.jsonl", ExitCode.MISSING_FILE),
        ("bundle:conll-llm@7/records.jsonl", ExitCode.MISSING_FILE),
        ("bundle:conll-llm/nothing.jsonl", ExitCode.MISSING_FILE),
        ("bundle:conll-llm/records.jsonl/", ExitCode.MISSING_FILE),
    ],
)
def test_bad_reference_is_refused(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path, reference: str, exit_code: int
) -> None:
    import_bundle(sim.write(), trust, tmp_path / "store", now=NOW)
    with pytest.raises((BundleError, MissingFileError)) as info:
        resolve_reference(reference, tmp_path / "store")
    assert info.value.exit_code == exit_code


def test_reference_without_sequence_takes_the_newest(sim: BundleSimulator, trust: TrustStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    for sequence in (1, 2):
        sim.fields["sequence"] = sequence
        sim.files["qa.json"] = f'{{"n": {sequence}}}'.encode()
        import_bundle(sim.write(name=f"{sequence}.bundle"), trust, store, now=NOW)
    assert resolve_reference("bundle:conll-llm/qa.json", store).read_bytes() == b'{"n": 2}'
    assert resolve_reference("bundle:conll-llm@1/qa.json", store).read_bytes() == b'{"n": 1}'


def test_a_killed_imports_staging_leftovers_are_removed_by_the_next_import(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    staging = store / ".staging"
    killed_mid_verify = staging / ".verify-abc123"  # a killed verification: partly written payload
    (killed_mid_verify / "payload").mkdir(parents=True)
    (killed_mid_verify / "payload" / "records.jsonl").write_bytes(b"x" * 1000)
    killed_before_rename = staging / ".verify-def456"  # made read-only (0555/0444), then killed before the rename
    (killed_before_rename / "payload" / "sub").mkdir(parents=True)
    (killed_before_rename / "payload" / "sub" / "f").write_bytes(b"y")
    (killed_before_rename / "payload" / "sub" / "f").chmod(0o444)
    for folder in (killed_before_rename / "payload" / "sub", killed_before_rename / "payload", killed_before_rename):
        folder.chmod(0o555)
    import_bundle(sim.write(), trust, store, now=NOW)
    assert list(staging.iterdir()) == []
