"""Ed25519 signing and verification over DSSE pre-authentication bytes, via the ``cryptography`` package.

A key id is the sha256 of the raw 32-byte public key, so it names the key itself, not a file or a label, and
the same key can never count twice toward a threshold under two ids. Keys on disk live in ``keys``.

Example::

    sig = sign(private_key, message)
    assert verify_signature(private_key.public_key(), sig, message)
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from offline_ner.bundle.envelope import Signature


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """sha256 of the raw public key, lowercase hex (``openssl pkey -pubin -outform DER | tail -c 32 | sha256sum``)."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()


def sign(private_key: Ed25519PrivateKey, message: bytes) -> Signature:
    """Sign ``message`` (Ed25519 is deterministic: same key and message, same signature)."""
    return Signature(keyid=key_id(private_key.public_key()), sig=base64.b64encode(private_key.sign(message)).decode())


def verify_signature(public_key: Ed25519PublicKey, signature: Signature, message: bytes) -> bool:
    """True only if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    try:
        raw = base64.b64decode(signature.sig, validate=True)
        public_key.verify(raw, message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
