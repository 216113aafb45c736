"""Model bundles and OpenSSF Model Signing (key mode), both ways, checked by the real ``model_signing`` tool.

The reference tool cannot be installed next to this project's cryptography (it imports pyOpenSSL, whose releases
all need cryptography < 51), so it runs from its own environment: ``OFFLINE_NER_MODEL_SIGNING`` names its
executable (or ``model_signing`` on PATH); the interop tests skip, saying so, without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from offline_ner.bundle.contents import PayloadFile
from offline_ner.bundle.create import _entry
from offline_ner.bundle.model_signature import (
    folder_digests,
    key_hint,
    load_ec_private_key,
    load_ec_public_key,
    sign_payload,
    verified_digests,
)
from offline_ner.cli.main import cli
from offline_ner.errors import BundleError, ExitCode, SignatureError

TOOL = os.environ.get("OFFLINE_NER_MODEL_SIGNING") or shutil.which("model_signing")
needs_tool = pytest.mark.skipif(
    TOOL is None, reason="the real model_signing tool is absent: set OFFLINE_NER_MODEL_SIGNING to its executable "
    "(pip install model-signing pyopenssl in a separate venv; it cannot share cryptography 51)"
)


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def model_signing(*args: str) -> subprocess.CompletedProcess[str]:
    assert TOOL is not None
    return subprocess.run([TOOL, *args], capture_output=True, text=True, check=False, timeout=120)


def p256_key(folder: Path, name: str) -> tuple[Path, Path]:
    """A fresh ECDSA P-256 key pair as PEM files (what openssl ecparam / ec -pubout write)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.key", folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A small model folder: config, weights bytes, tokenizer files in a sub-folder, and a .gitattributes."""
    folder = tmp_path / "ner-model"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForTokenClass"]}))
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\n")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    return folder


@pytest.fixture
def release(tmp_path: Path, env: dict[str, str]) -> Path:
    """An Ed25519 release key trusted for model bundles (the bundle's own signature)."""
    assert run(env, "keys", "generate", "--out", str(tmp_path / "keys"), "--name", "release").exit_code == 0
    added = run(env, "trust", "add", str(tmp_path / "keys" / "release.pub.pem"), "--role", "release", "--kind",
                "model", "--threshold", "1")
    assert added.exit_code == 0, added.output
    return tmp_path / "keys" / "release.key"


def create(env: dict[str, str], release: Path, source: Path, out: Path, *options: str) -> Result:
    return run(env, "bundle", "create", "--kind", "model", "--stream", "ner", "--sequence", "1", "--key",
               str(release), str(source), "-o", str(out), *options)


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))


@needs_tool
def test_an_exported_model_folder_verifies_with_model_signing_and_one_changed_byte_is_refused(
    tmp_path: Path, env: dict[str, str], model: Path, release: Path
) -> None:
    key, public = p256_key(tmp_path, "model-signing")
    bundle = tmp_path / "ner-1.bundle"
    assert create(env, release, model, bundle, "--model-signing-key", str(key)).exit_code == 0
    imported = run(env, "bundle", "import", str(bundle), "--json")  # verified against the trust store
    assert imported.exit_code == 0, imported.output
    exported = tmp_path / "exported"
    shutil.copytree(json.loads(imported.stdout)["payload_dir"], exported)
    assert (exported / "model.sig").is_file()

    accepted = model_signing("verify", "key", str(exported), "--signature", str(exported / "model.sig"),
                             "--public_key", str(public))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Verification succeeded" in accepted.stdout

    flip_one_byte(exported / "model.safetensors")
    refused = model_signing("verify", "key", str(exported), "--signature", str(exported / "model.sig"),
                            "--public_key", str(public))
    assert refused.returncode != 0 and "Verification failed" in refused.stdout + refused.stderr


@needs_tool
def test_a_folder_signed_with_model_signing_is_accepted_and_its_signer_recorded_and_one_changed_byte_is_refused(
    tmp_path: Path, env: dict[str, str], model: Path, release: Path
) -> None:
    key, public = p256_key(tmp_path, "publisher")
    signed = model_signing("sign", "key", str(model), "--private_key", str(key), "--signature",
                           str(model / "model.sig"))
    assert signed.returncode == 0, signed.stdout + signed.stderr

    result = create(env, release, model, tmp_path / "ner-1.bundle", "--upstream-public-key", str(public))
    assert result.exit_code == 0, result.output
    inspected = json.loads(run(env, "bundle", "inspect", str(tmp_path / "ner-1.bundle"), "--json").stdout)
    assert inspected["status"] == "VERIFIED"
    signer = inspected["manifest"]["provenance"]["model_signing"]
    assert signer["origin"] == "upstream" and signer["files"] == 3  # .gitattributes and model.sig are not signed
    assert signer["public_key_sha256"] == hashlib.sha256(public.read_bytes()).hexdigest()
    assert "payload/model.sig" in [m["name"] for m in inspected["members"]]  # travels, for the closed side's tool

    flip_one_byte(model / "model.safetensors")
    refused = create(env, release, model, tmp_path / "ner-2.bundle", "--upstream-public-key", str(public))
    assert refused.exit_code == ExitCode.SIGNATURE
    assert "does not match its model.sig: changed ['model.safetensors']" in refused.output
    assert not (tmp_path / "ner-2.bundle").exists()


@needs_tool
def test_a_folder_signed_by_another_publisher_is_refused(
    tmp_path: Path, env: dict[str, str], model: Path, release: Path
) -> None:
    key, _ = p256_key(tmp_path, "publisher")
    _, stranger = p256_key(tmp_path, "stranger")
    assert model_signing("sign", "key", str(model), "--private_key", str(key), "--signature",
                         str(model / "model.sig")).returncode == 0
    refused = create(env, release, model, tmp_path / "ner-1.bundle", "--upstream-public-key", str(stranger))
    assert refused.exit_code == ExitCode.SIGNATURE and "was signed by key" in refused.output


def test_a_model_sig_nobody_checks_is_refused(tmp_path: Path, env: dict[str, str], model: Path,
                                              release: Path) -> None:
    (model / "model.sig").write_text("{}")
    refused = create(env, release, model, tmp_path / "ner-1.bundle")
    assert refused.exit_code == ExitCode.BUNDLE_FORMAT and "--upstream-public-key" in refused.output


def test_an_ed25519_key_cannot_make_a_model_signature(tmp_path: Path, env: dict[str, str], model: Path,
                                                      release: Path) -> None:
    # the reference verifier's key mode takes NIST curves only: an Ed25519 model.sig would verify nowhere
    ed25519 = tmp_path / "ed.key"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ed25519.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    refused = create(env, release, model, tmp_path / "ner-1.bundle", "--model-signing-key", str(ed25519))
    assert refused.exit_code == ExitCode.KEY_FILE and "ECDSA P-256" in refused.output


def test_our_signature_round_trips_and_refuses_a_changed_added_or_foreign_file(tmp_path: Path, model: Path) -> None:
    # the same checks without the reference tool, so they run everywhere
    key, public = p256_key(tmp_path, "release")
    _, stranger = p256_key(tmp_path, "stranger")
    signing_key = load_ec_private_key(key)
    (model / "model.sig").write_bytes(sign_payload(model.name, folder_digests(model), signing_key))
    assert set(verified_digests(model, load_ec_public_key(public))) == {"config.json", "model.safetensors",
                                                                        "tokenizer/vocab.txt"}
    with pytest.raises(SignatureError, match="was signed by key"):
        verified_digests(model, load_ec_public_key(stranger))
    (model / "tokenizer" / "extra.txt").write_text("smuggled\n")
    with pytest.raises(SignatureError, match=r"not signed \['tokenizer/extra.txt'\]"):
        verified_digests(model, load_ec_public_key(public))
    (model / "tokenizer" / "extra.txt").unlink()
    flip_one_byte(model / "model.safetensors")
    with pytest.raises(SignatureError, match=r"changed \['model.safetensors'\]"):
        verified_digests(model, load_ec_public_key(public))


def test_a_file_that_changed_after_its_signature_was_checked_is_not_bundled(tmp_path: Path, model: Path) -> None:
    # create hashes every file again; one that no longer has the digest the model.sig (or lock) states is refused
    item = PayloadFile("model.safetensors", source=model / "model.safetensors", sha256="0" * 64)
    with pytest.raises(BundleError, match="changed after its lock or model signature was made"):
        _entry(item)


def test_an_encrypted_model_signing_key_takes_the_bundle_passphrase(tmp_path: Path, env: dict[str, str],
                                                                     model: Path, release: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = tmp_path / "model-signing.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(
                                                env["OFFLINE_NER_KEY_PASSPHRASE"].encode())))
    result = create(env, release, model, tmp_path / "ner-1.bundle", "--model-signing-key", str(encrypted))
    assert result.exit_code == 0, result.output
    inspected = json.loads(run(env, "bundle", "inspect", str(tmp_path / "ner-1.bundle"), "--json").stdout)
    signer = inspected["manifest"]["provenance"]["model_signing"]
    assert signer["origin"] == "bundle" and signer["public_key_sha256"] == key_hint(key.public_key())
