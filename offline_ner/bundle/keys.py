"""Signing keys on disk: generate an Ed25519 key pair, load a private key (encrypted at rest) or a public key.

The private key is PKCS#8 PEM encrypted with the caller's passphrase (the CLI takes it from
``OFFLINE_NER_KEY_PASSPHRASE`` or a prompt, never argv) and written with mode 0600; the public key is a plain
SubjectPublicKeyInfo PEM that ``openssl`` reads. This module never decides trust (``trust``).

Example::

    pair = generate_key(Path("keys"), passphrase=b"correct horse", name="release")
    key = load_private_key(pair.private_path, b"correct horse")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from offline_ner._fs import atomic_write_bytes, fsync_dir
from offline_ner.bundle.signing import key_id
from offline_ner.errors import KeyFileError


@dataclass(frozen=True)
class KeyPair:
    """Where a generated key pair was written, and its key id."""

    keyid: str
    private_path: Path
    public_path: Path


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key(out_dir: Path, *, passphrase: bytes, name: str = "signing") -> KeyPair:
    """Write ``<name>.key`` (encrypted private key, 0600) and ``<name>.pub.pem`` into ``out_dir``.

    Raises:
        KeyFileError: an empty passphrase, or either file already exists (a key is never overwritten).
    """
    if not passphrase:
        raise KeyFileError("refusing to write an unencrypted private key: give a non-empty passphrase")
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub.pem"
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} already exists; a key is never overwritten (choose another --name)")
    key = Ed25519PrivateKey.generate()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    # O_EXCL with 0600: the private key is never readable by others, not even for an instant
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(encrypted)
        handle.flush()
        os.fsync(handle.fileno())
    atomic_write_bytes(public_path, public_key_pem(key.public_key()))
    fsync_dir(out_dir)
    return KeyPair(keyid=key_id(key.public_key()), private_path=private_path, public_path=public_path)


def load_private_key(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Decrypt an Ed25519 private key file.

    Raises:
        KeyFileError: missing or unreadable file, wrong passphrase, or not an Ed25519 key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read private key {path}: {err.strerror}") from err
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"cannot decrypt private key {path}: wrong passphrase or not a PEM key ({err})") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; bundles are signed with Ed25519 keys only")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key PEM (as written by :func:`generate_key` or ``openssl pkey -pubout``).

    Raises:
        KeyFileError: missing file, not a PEM public key, or not Ed25519.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read public key {path}: {err.strerror}") from err
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not a PEM public key: {err}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; bundles are signed with Ed25519 keys only")
    return key
