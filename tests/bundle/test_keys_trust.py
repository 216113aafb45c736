"""Key files and the trust store: encrypted at rest, never overwritten, ids stock openssl can recompute."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, generate_key, load_private_key, load_public_key
from offline_ner.bundle.signing import key_id
from offline_ner.errors import ExitCode, KeyFileError, TrustStoreError


def test_generated_private_key_is_encrypted_and_private(tmp_path: Path) -> None:
    pair = generate_key(tmp_path, passphrase=b"s3cret", name="release")
    assert pair.private_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    key = load_private_key(pair.private_path, b"s3cret")
    assert key_id(key.public_key()) == key_id(load_public_key(pair.public_path)) == pair.keyid


def test_wrong_passphrase_is_a_key_file_error(tmp_path: Path) -> None:
    pair = generate_key(tmp_path, passphrase=b"s3cret")
    with pytest.raises(KeyFileError) as info:
        load_private_key(pair.private_path, b"guess")
    assert info.value.exit_code == ExitCode.KEY_FILE


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    pair = generate_key(tmp_path, passphrase=b"s3cret")
    before = pair.private_path.read_bytes()
    with pytest.raises(KeyFileError):
        generate_key(tmp_path, passphrase=b"other")
    assert pair.private_path.read_bytes() == before


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        generate_key(tmp_path, passphrase=b"")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_key_id_is_what_install_sh_computes_with_openssl(tmp_path: Path) -> None:
    pair = generate_key(tmp_path, passphrase=b"s3cret")
    shell = f"openssl pkey -pubin -in {pair.public_path} -outform DER | tail -c 32 | sha256sum | cut -c1-64"
    assert subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True).stdout.strip() == pair.keyid


def test_trust_store_round_trips_through_its_file(trust: TrustStore) -> None:
    loaded = TrustStore.load(trust.path)  # type: ignore[arg-type]
    assert loaded.to_dict() == trust.to_dict()
    assert set(loaded.roles) == {"annotator"}


def test_corrupt_or_missing_trust_store_is_a_trust_store_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"version": 1, "keys": {')
    for path in (tmp_path / "bad.json", tmp_path / "absent.json"):
        with pytest.raises(TrustStoreError) as info:
            TrustStore.load(path)
        assert info.value.exit_code == ExitCode.TRUST_STORE


def test_trust_store_entry_whose_key_id_does_not_match_its_key_is_refused(trust: TrustStore) -> None:
    raw = json.loads(trust.path.read_text())  # type: ignore[union-attr]
    keys = list(raw["keys"].values())
    raw["keys"] = {"0" * 64: keys[0]}
    with pytest.raises(TrustStoreError):
        TrustStore.from_dict(raw)


def test_key_in_an_undefined_role_is_refused(tmp_path: Path) -> None:
    store = TrustStore(path=tmp_path / "t.json")
    with pytest.raises(TrustStoreError):
        store.add_key(Ed25519PrivateKey.generate().public_key(), roles=["nobody"])


@pytest.mark.parametrize("threshold", [0, -1, True])
def test_role_threshold_below_one_is_refused(tmp_path: Path, threshold: int) -> None:
    with pytest.raises(TrustStoreError):
        TrustStore().set_role("r", threshold=threshold, kinds=["model"])


def test_remove_by_unique_prefix(trust: TrustStore, alice: Ed25519PrivateKey) -> None:
    removed = trust.remove_key(key_id(alice.public_key())[:12])
    assert removed.keyid == key_id(alice.public_key())
    with pytest.raises(TrustStoreError):
        trust.remove_key("abc")


@pytest.mark.parametrize(
    "shape",
    [
        [1, 2],
        "trust",
        {"version": 1, "roles": [], "keys": {}, "streams": {}},
        {"version": 1, "roles": {"r": [1]}, "keys": {}, "streams": {}},
        {"version": 1, "roles": {}, "keys": {"k": "pem"}, "streams": {}},
        {"version": 1, "roles": {}, "keys": {}, "streams": {"s": 3}},
        {"version": 1, "roles": {"r": {"threshold": 1, "kinds": "model", "paths": ["*"]}}, "keys": {}, "streams": {}},
    ],
)
def test_wrongly_shaped_trust_store_exits_33_from_the_cli(tmp_path: Path, shape: object) -> None:
    from click.testing import CliRunner

    from offline_ner.cli.main import cli

    path = tmp_path / "trust.json"
    path.write_text(json.dumps(shape))
    result = CliRunner().invoke(cli, ["trust", "list", "--trust-store", str(path)])
    assert result.exit_code == ExitCode.TRUST_STORE, result.output
    assert "is corrupt: " in result.output and "AttributeError" not in result.output


def test_temp_file_of_a_crashed_save_is_removed_by_the_next_locked_change(trust: TrustStore) -> None:
    assert trust.path is not None
    dead = subprocess.run(["sh", "-c", "echo $$"], check=True, capture_output=True, text=True).stdout.strip()
    leftover = trust.path.parent / f".{trust.path.name}.{dead}.0a1b2c3d.tmp"  # atomic_writer's name: owner's pid
    leftover.write_text('{"half": ')
    unrelated = trust.path.parent / f".other.json.{dead}.0a1b2c3d.tmp"
    unrelated.write_text("")
    with TrustStore.locked(trust.path) as store:
        store.save()
    assert not leftover.exists()
    assert unrelated.exists(), "only this store's temp files are removed"
