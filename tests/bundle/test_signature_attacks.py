"""Signature and policy attacks: only a threshold of distinct trusted keys, in a role allowed to sign this kind
and these paths, authenticates a manifest; and the manifest is not even parsed before that."""

from __future__ import annotations

from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore
from offline_ner.bundle.envelope import Signature, pae
from offline_ner.bundle.signing import key_id, sign
from offline_ner.errors import ExitCode
from tests.bundle.simulator import NOW, BundleSimulator, Verifier


def test_unsigned_bundle_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    sim.signers = []
    err = verifier.rejects(sim.write(), ExitCode.SIGNATURE)
    assert dict(err.report.manifest) == {}, "the manifest must not be parsed without a valid threshold"


def test_bundle_signed_by_unknown_key_is_rejected(
    sim: BundleSimulator, verifier: Verifier, mallory: Ed25519PrivateKey
) -> None:
    sim.signers = [mallory]
    err = verifier.rejects(sim.write(), ExitCode.UNKNOWN_KEY)
    assert list(err.report.signatures) == [{"keyid": key_id(mallory.public_key()), "verdict": "unknown-key", "roles": []}]


def test_signature_by_unknown_key_under_a_trusted_key_id_is_rejected(
    sim: BundleSimulator, verifier: Verifier, alice: Ed25519PrivateKey, mallory: Ed25519PrivateKey
) -> None:
    # mallory signs but claims to be alice: the key id is only a hint, alice's key must verify it
    forged = sign(mallory, pae(sim.payload_type, sim.manifest_bytes()))
    sim.signers = []
    sim.extra_signatures = [Signature(keyid=key_id(alice.public_key()), sig=forged.sig)]
    verifier.rejects(sim.write(), ExitCode.SIGNATURE)


def test_one_key_signing_twice_does_not_meet_a_threshold_of_two(
    sim: BundleSimulator, verifier: Verifier, trust: TrustStore, alice: Ed25519PrivateKey
) -> None:
    trust.set_role("annotator", threshold=2, kinds=["annotations"], paths=["*"])
    # Ed25519 is deterministic, so the same signature appears twice; the envelope must still count alice once
    duplicate = sign(alice, pae(sim.payload_type, sim.manifest_bytes()))
    sim.extra_signatures = [duplicate]
    err = verifier.rejects(sim.write(), ExitCode.THRESHOLD)
    assert [s["verdict"] for s in err.report.signatures] == ["valid", "duplicate"]


def test_two_distinct_trusted_keys_meet_a_threshold_of_two(
    sim: BundleSimulator, verifier: Verifier, trust: TrustStore, alice: Ed25519PrivateKey, bob: Ed25519PrivateKey
) -> None:
    trust.set_role("annotator", threshold=2, kinds=["annotations"], paths=["*"])
    sim.signers = [alice, bob]
    assert verifier.accepts(sim.write()).verified


def test_valid_signature_over_another_payload_type_is_rejected(
    sim: BundleSimulator, verifier: Verifier, alice: Ed25519PrivateKey
) -> None:
    # alice really signed these exact manifest bytes, but as an in-toto statement: PAE binds the type
    sim.payload_type = "application/vnd.in-toto+json"
    verifier.rejects(sim.write(), ExitCode.SIGNATURE)


def test_signature_over_the_raw_manifest_without_pae_is_rejected(
    sim: BundleSimulator, verifier: Verifier, alice: Ed25519PrivateKey
) -> None:
    raw = sign(alice, sim.manifest_bytes())
    sim.signers = []
    sim.extra_signatures = [raw]
    verifier.rejects(sim.write(), ExitCode.SIGNATURE)


def test_role_not_allowed_for_a_payload_path_is_rejected(
    sim: BundleSimulator, verifier: Verifier, trust: TrustStore
) -> None:
    trust.set_role(
        "annotator", threshold=1, kinds=["annotations"], paths=["records.jsonl", "provenance.json", "qa.json"]
    )
    sim.files["run_me.py"] = b"import os\n"
    err = verifier.rejects(sim.write(), ExitCode.POLICY)
    roles = {entry["path"]: entry["role"] for entry in err.report.files}
    assert roles == {
        "provenance.json": "annotator",
        "qa.json": "annotator",
        "records.jsonl": "annotator",
        "run_me.py": None,
    }


def test_role_not_allowed_for_the_bundle_kind_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    # an annotator key must not be able to ship a model (or wheels that run code)
    sim.fields["kind"] = "model"
    verifier.rejects(sim.write(), ExitCode.POLICY)


def test_expired_bundle_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    sim.fields["expires"] = "2026-03-01T00:00:00Z"
    err = verifier.rejects(sim.write(), ExitCode.EXPIRED)
    assert {c["check"]: c["verdict"] for c in err.report.checks}["expiry"] == "failed"


def test_bundle_before_its_expiry_is_accepted(sim: BundleSimulator, verifier: Verifier) -> None:
    sim.fields["expires"] = "2026-12-01T00:00:00Z"
    assert verifier.accepts(sim.write(), now=NOW).verified
    verifier.rejects(sim.write(), ExitCode.EXPIRED, now=datetime(2027, 1, 1, tzinfo=timezone.utc))


def test_invalid_and_unknown_signatures_beside_a_met_threshold_are_reported_not_fatal(
    sim: BundleSimulator, verifier: Verifier, bob: Ed25519PrivateKey, mallory: Ed25519PrivateKey
) -> None:
    bogus = sign(bob, b"something else entirely")
    sim.extra_signatures = [bogus, sign(mallory, pae(sim.payload_type, sim.manifest_bytes()))]
    report = verifier.accepts(sim.write())
    assert sorted(s["verdict"] for s in report.signatures) == ["invalid", "unknown-key", "valid"]


def test_garbled_signature_encoding_counts_as_an_invalid_signature(
    sim: BundleSimulator, verifier: Verifier, alice: Ed25519PrivateKey
) -> None:
    sim.signers = []
    sim.extra_signatures = [Signature(keyid=key_id(alice.public_key()), sig="!!not base64!!")]
    verifier.rejects(sim.write(), ExitCode.SIGNATURE)


def test_several_failures_raise_the_most_severe_and_report_all(sim: BundleSimulator, verifier: Verifier) -> None:
    sim.fields["expires"] = "2026-03-01T00:00:00Z"
    members = sim.with_member("payload/qa.json", data=b'{"dropped": 9}')
    err = verifier.rejects(sim.write(members), ExitCode.EXPIRED)
    failed = {c["check"] for c in err.report.checks if c["verdict"] == "failed"}
    assert failed == {"expiry"}
    assert {e["path"]: e["verdict"] for e in err.report.files}["qa.json"] == "HashMismatchError"
