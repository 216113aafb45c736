"""Tamper matrix: every way of altering one part of a valid bundle is caught, with the documented exit code.

Parts: the magic member, the envelope, the manifest inside it, and each payload file. Operations: flip a byte,
truncate, append, replace with same-size junk, and swap in the same part of another valid, signed bundle (the
"mix and match" attack: each half is authentic, the combination is not).
"""

from __future__ import annotations

import base64
import json

import pytest

from offline_ner.bundle.envelope import PAYLOAD_TYPE
from offline_ner.errors import ExitCode
from tests.bundle.simulator import BundleSimulator, Member, Verifier, records_jsonl

PAYLOAD = ("provenance.json", "qa.json", "records.jsonl")


def _mutate(data: bytes, operation: str, other: bytes) -> bytes:
    if operation == "flip":
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    if operation == "truncate":
        return data[:-1]
    if operation == "append":
        return data + b"\n"
    if operation == "replace":
        return b"A" * len(data)
    assert operation == "swap"
    return other


def _other_bundle(sim: BundleSimulator) -> BundleSimulator:
    """A second valid bundle of the same stream and signer, with different content."""
    other = BundleSimulator(root=sim.root, signers=sim.signers)
    other.files = {
        "provenance.json": b'{"llm_model": "other"}',
        "qa.json": b'{"dropped": 7}',
        "records.jsonl": records_jsonl([{"id": "x", "tokens": ["Bob"], "tags": ["B-PER"]}]),
    }
    return other


def _tampered_manifest_envelope(sim: BundleSimulator, operation: str, other: BundleSimulator) -> bytes:
    """The envelope with the manifest changed but the original signatures kept."""
    envelope = json.loads(sim.envelope_bytes())
    manifest = _mutate(sim.manifest_bytes(), operation, other.manifest_bytes())
    envelope["payload"] = base64.b64encode(manifest).decode()
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def _flip_signature(envelope: bytes) -> bytes:
    at = envelope.rindex(b'"}]}') - 3  # a base64 character inside the last signature
    return envelope[:at] + bytes([envelope[at] ^ 0x01]) + envelope[at + 1 :]


OPERATIONS = ("flip", "truncate", "append", "replace", "swap")
# (part, operation) -> exit code; the magic member is identical in every bundle, so swapping it changes nothing
EXPECTED = {
    **{("magic", op): ExitCode.BUNDLE_FORMAT for op in OPERATIONS if op != "swap"},
    **{("envelope", op): ExitCode.BUNDLE_FORMAT for op in ("truncate", "append", "replace")},
    ("envelope", "flip"): ExitCode.SIGNATURE,
    ("envelope", "swap"): ExitCode.HASH_MISMATCH,  # authentic manifest of the other bundle, our files
    **{("manifest", op): ExitCode.SIGNATURE for op in OPERATIONS},
    **{(f"payload/{name}", op): ExitCode.HASH_MISMATCH for name in PAYLOAD for op in OPERATIONS},
}


@pytest.mark.parametrize(("part", "operation"), sorted(EXPECTED), ids=lambda v: str(v))
def test_tampered_part_is_rejected_with_its_exit_code(
    sim: BundleSimulator, verifier: Verifier, part: str, operation: str
) -> None:
    other = _other_bundle(sim)
    if part == "manifest":
        members = sim.with_member("envelope.json", data=_tampered_manifest_envelope(sim, operation, other))
    else:
        name = "offline-ner-bundle" if part == "magic" else "envelope.json" if part == "envelope" else part
        original = {m.name: m.data for m in sim.members()}[name]
        replacement = {m.name: m.data for m in other.members()}[name]
        data = (
            _flip_signature(original)
            if (part, operation) == ("envelope", "flip")
            else _mutate(original, operation, replacement)
        )
        members = sim.with_member(name, data=data)
    err = verifier.rejects(sim.write(members), EXPECTED[(part, operation)])
    if part.startswith("payload/"):
        verdicts = {entry["path"]: entry["verdict"] for entry in err.report.files}
        assert verdicts[part.removeprefix("payload/")] == "HashMismatchError"


def test_untampered_bundle_is_accepted_and_every_check_is_reported(sim: BundleSimulator, verifier: Verifier) -> None:
    report = verifier.accepts(sim.write())
    assert report.verified is True
    assert [entry["verdict"] for entry in report.files] == ["ok", "ok", "ok"]
    assert [sig["verdict"] for sig in report.signatures] == ["valid"]
    assert {check["check"] for check in report.checks} == {"signatures", "head mtimes", "policy", "expiry", "rollback"}


@pytest.mark.parametrize(
    ("cut", "exit_code"),
    [
        (100, ExitCode.BUNDLE_FORMAT),  # inside the magic header
        (1100, ExitCode.BUNDLE_FORMAT),  # inside the envelope
        # records.jsonl is last: header, data (< 512 bytes, padded to one block), then the 1024-byte end marker
        (-1024 - 512 + 5, ExitCode.HASH_MISMATCH),  # inside the last payload file's data
        (-1024 - 512 - 512, ExitCode.MISSING_FILE),  # exactly before the last payload member
        (-1, ExitCode.BUNDLE_FORMAT),  # the end-of-archive marker is damaged
    ],
)
def test_truncated_bundle_file_is_rejected(sim: BundleSimulator, verifier: Verifier, cut: int, exit_code: int) -> None:
    path = sim.write()
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    verifier.rejects(path, exit_code)


def test_data_appended_after_the_end_of_archive_is_rejected_as_extra(sim: BundleSimulator, verifier: Verifier) -> None:
    path = sim.write()
    path.write_bytes(path.read_bytes() + b"\0" * 512 + b"smuggled")
    verifier.rejects(path, ExitCode.EXTRA_FILE)


def test_payload_type_changed_in_envelope_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    envelope = sim.envelope_bytes().replace(PAYLOAD_TYPE.encode(), b"application/vnd.in-toto+json")
    verifier.rejects(sim.write(sim.with_member("envelope.json", data=envelope)), ExitCode.BUNDLE_FORMAT)


def test_envelope_swapped_and_files_swapped_together_is_the_other_valid_bundle(
    sim: BundleSimulator, verifier: Verifier
) -> None:
    # the whole other bundle is authentic: swapping every part is no attack, it is just that bundle
    other = _other_bundle(sim)
    report = verifier.accepts(other.write(name="other.bundle"))
    assert report.manifest["provenance"] == other.fields["provenance"]


def test_member_declaring_more_bytes_than_the_manifest_stops_at_the_declared_size(
    sim: BundleSimulator, verifier: Verifier
) -> None:
    members = [Member(m.name, m.data + b"EXTRA" if m.name == "payload/qa.json" else m.data) for m in sim.members()]
    err = verifier.rejects(sim.write(members), ExitCode.HASH_MISMATCH)
    assert "declares" in str(err)
