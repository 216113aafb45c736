"""Key rotation and revocation (issue 32, item 3): a role's keys hand it to new keys with a record a threshold of
them signed; a revoked key's bundles are refused (35) whatever their date; 'trust signed' names what each key
signed among the imported content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, import_bundle, load_private_key
from offline_ner.bundle.rotation import apply_rotation, create_rotation
from offline_ner.bundle.signing import key_id
from offline_ner.cli.main import cli
from offline_ner.errors import BundleError, ExitCode
from tests.bundle.simulator import CREATED, NOW, BundleSimulator, fixed_key


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner(env=env).invoke(cli, [*args, "--json"], catch_exceptions=False)


def _signed(sim: BundleSimulator, signers: list[Ed25519PrivateKey], sequence: int) -> Path:
    sim.signers, sim.fields["sequence"] = signers, sequence
    return sim.write(name=f"conll-llm-{sequence}.bundle")


def test_a_rotated_out_key_is_refused_and_the_listing_names_what_it_signed(
    tmp_path: Path, sim: BundleSimulator, env: dict[str, str]
) -> None:
    keys = tmp_path / "keys"
    for name in ("alice", "carol"):
        assert run(env, "keys", "generate", "--out", str(keys), "--name", name).exit_code == 0
    added = run(env, "trust", "add", str(keys / "alice.pub.pem"), "--role", "annotator", "--kind", "annotations")
    assert added.exit_code == 0, added.output
    alice_id = json.loads(added.stdout)["keyid"]
    trust = TrustStore.load(tmp_path / "trust.json")
    alice = trust.keys[alice_id]
    alice_key = load_private_key(keys / "alice.key", env["OFFLINE_NER_KEY_PASSPHRASE"].encode())
    carol_key = load_private_key(keys / "carol.key", env["OFFLINE_NER_KEY_PASSPHRASE"].encode())
    assert key_id(alice_key.public_key()) == alice.keyid

    first = run(env, "bundle", "import", str(_signed(sim, [alice_key], 1)))
    assert first.exit_code == 0, first.output

    record = tmp_path / "rotate-annotator.json"
    made = run(env, "trust", "rotation", "annotator", "--new-key", str(keys / "carol.pub.pem"),
               "--key", str(keys / "alice.key"), "-o", str(record))
    assert made.exit_code == 0, made.output
    rotated = run(env, "trust", "rotate", str(record))
    assert rotated.exit_code == 0, rotated.output
    after = TrustStore.load(tmp_path / "trust.json")
    assert after.keys[alice_id].revoked is not None
    carol_id = key_id(carol_key.public_key())
    assert after.keys[carol_id].roles == ("annotator",) and after.keys[carol_id].revoked is None

    by_new = run(env, "bundle", "import", str(_signed(sim, [carol_key], 2)))
    assert by_new.exit_code == 0, by_new.output
    by_revoked = run(env, "bundle", "import", str(_signed(sim, [alice_key], 3)))
    assert by_revoked.exit_code == ExitCode.REVOKED_KEY, by_revoked.output
    assert json.loads(by_revoked.stdout)["error"]["type"] == "RevokedKeyError"
    assert run(env, "trust", "rotate", str(record)).exit_code == ExitCode.REVOKED_KEY  # a record applies once

    listing = run(env, "trust", "signed")
    assert listing.exit_code == 0, listing.output
    signed = {entry["keyid"]: entry for entry in json.loads(listing.stdout)["keys"]}
    assert signed[alice_id]["revoked"] is not None
    assert [(i["stream"], i["sequence"]) for i in signed[alice_id]["signed"]] == [("conll-llm", 1)]
    assert [(i["stream"], i["sequence"]) for i in signed[carol_id]["signed"]] == [("conll-llm", 2)]
    only = run(env, "trust", "signed", "--key", alice_id[:12])
    assert [entry["keyid"] for entry in json.loads(only.stdout)["keys"]] == [alice_id]


def test_a_revoked_key_beside_a_valid_signer_is_reported_but_not_fatal(
    tmp_path: Path, sim: BundleSimulator, trust: TrustStore, alice: Ed25519PrivateKey, bob: Ed25519PrivateKey
) -> None:
    trust.revoke_key(key_id(bob.public_key()), CREATED)
    trust.save()
    with pytest.raises(BundleError) as info:
        import_bundle(_signed(sim, [bob], 1), TrustStore(path=trust.path), tmp_path / "store", now=NOW)
    assert info.value.exit_code == ExitCode.REVOKED_KEY
    result = import_bundle(_signed(sim, [alice, bob], 2), TrustStore(path=trust.path), tmp_path / "store", now=NOW)
    assert result.sequence == 2


def test_a_store_with_a_revoked_key_round_trips_and_an_older_reader_refuses_it(
    trust: TrustStore, bob: Ed25519PrivateKey
) -> None:
    assert trust.path is not None
    trust.revoke_key(key_id(bob.public_key()), CREATED)
    trust.save()
    saved = json.loads(trust.path.read_text())
    assert saved["version"] == 2 and saved["keys"][key_id(bob.public_key())]["revoked"] == "2026-01-01T00:00:00Z"
    assert TrustStore.load(trust.path).keys[key_id(bob.public_key())].revoked == CREATED
    with pytest.raises(BundleError, match="never trusted again"):
        trust.add_key(bob.public_key(), roles=["annotator"])


@pytest.mark.parametrize(
    ("signers", "exit_code"),
    [([fixed_key(66)], ExitCode.UNKNOWN_KEY), ([fixed_key(1)], ExitCode.THRESHOLD)],
    ids=["signed-by-a-stranger", "below-the-role-threshold"],
)
def test_a_rotation_without_a_threshold_of_current_keys_changes_nothing(
    trust: TrustStore, signers: list[Ed25519PrivateKey], exit_code: int
) -> None:
    trust.set_role("annotator", threshold=2, kinds=["annotations"])
    before = trust.to_dict()
    record = create_rotation("annotator", [(fixed_key(3).public_key(), "carol")], threshold=1, signers=signers)
    with pytest.raises(BundleError) as info:
        apply_rotation(trust, record)
    assert info.value.exit_code == exit_code
    assert trust.to_dict() == before


def test_a_manifest_signature_never_passes_for_a_rotation_record(sim: BundleSimulator, trust: TrustStore) -> None:
    with pytest.raises(BundleError, match="payload type") as info:
        apply_rotation(trust, sim.envelope_bytes())
    assert info.value.exit_code == ExitCode.BUNDLE_FORMAT


def test_a_rotation_revokes_every_current_key_of_the_role_it_does_not_list(
    trust: TrustStore, alice: Ed25519PrivateKey
) -> None:
    record = create_rotation("annotator", [(fixed_key(3).public_key(), "carol")], threshold=1, signers=[alice])
    applied = apply_rotation(trust, record)
    assert applied.role == "annotator"
    revoked = {k.name for k in trust.keys.values() if k.revoked is not None}
    assert revoked == {"alice", "bob"}  # every current key of the role the record does not list
    assert trust.keys[key_id(fixed_key(3).public_key())].name == "carol"
