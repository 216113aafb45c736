"""Signed key rotation for a trust-store role: the role's current keys, a threshold of them, hand the role to new
keys, so a closed site never has to take a new key on someone's word (``trust remove`` + ``trust add``).

A rotation record is a DSSE envelope (its own payload type, so no manifest signature can pass for one) over
canonical JSON ``{"created", "format", "keys": [{"name", "public_key"}], "role", "threshold"}``. Applying it
checks that at least the role's *current* threshold of its current, unrevoked keys signed it, then revokes (as
of ``created``) every current key of the role that the record does not list, trusts the listed keys in the role
and sets the role's new threshold. A record applies once: its signers are then revoked, so replaying it, or an
older record they signed, is refused as signed by revoked keys (35).

Example::

    record = create_rotation("annotator", [(carol_public, "carol")], threshold=1, signers=[alice_private])
    with TrustStore.locked(Path("trust.json")) as trust:
        apply_rotation(trust, record)
        trust.save()
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from offline_ner.bundle.envelope import Envelope, dumps_envelope, loads_envelope, pae
from offline_ner.bundle.manifest import canonical_json_bytes, format_time, parse_time
from offline_ner.bundle.signing import key_id, raw_public_key, sign
from offline_ner.bundle.trust import TrustStore, check_signatures, signature_error
from offline_ner.errors import BundleError, ThresholdError, TrustStoreError

ROTATION_PAYLOAD_TYPE = "application/vnd.offline-ner.rotation.v1+json"
ROTATION_FORMAT = "offline-ner-rotation/1"
MAX_ROTATION_BYTES = 1 << 20


@dataclass(frozen=True)
class Rotation:
    """What a rotation record says: ``role`` goes to ``keys`` (public key, name) with ``threshold``."""

    role: str
    threshold: int
    keys: tuple[tuple[Ed25519PublicKey, str], ...]
    created: datetime


def create_rotation(
    role: str,
    keys: list[tuple[Ed25519PublicKey, str]],
    *,
    threshold: int,
    signers: list[Ed25519PrivateKey],
    created: datetime | None = None,
) -> bytes:
    """The envelope bytes of a record handing ``role`` to ``keys``, signed by each of ``signers`` (old keys)."""
    if not keys or not signers:
        raise ValueError("a rotation needs at least one new key and one signer")
    payload = canonical_json_bytes(
        {
            "created": format_time((created or datetime.now(timezone.utc)).replace(microsecond=0)),
            "format": ROTATION_FORMAT,
            "keys": [{"name": name, "public_key": base64.b64encode(raw_public_key(pub)).decode()} for pub, name in keys],
            "role": role,
            "threshold": threshold,
        }
    )
    message = pae(ROTATION_PAYLOAD_TYPE, payload)
    unique = {key_id(key.public_key()): key for key in signers}
    return dumps_envelope(Envelope(ROTATION_PAYLOAD_TYPE, payload, tuple(sign(k, message) for k in unique.values())))


def _parse(payload: bytes) -> Rotation:
    try:
        raw = json.loads(payload)
        if not isinstance(raw, dict) or set(raw) != {"created", "format", "keys", "role", "threshold"}:
            raise BundleError("a rotation record holds exactly created, format, keys, role and threshold")
        if raw["format"] != ROTATION_FORMAT or canonical_json_bytes(raw) != payload:
            raise BundleError(f"not a canonical {ROTATION_FORMAT} record")
        keys = tuple(
            (Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"], validate=True)), str(k["name"]))
            for k in raw["keys"]
        )
        created = parse_time(raw["created"], "created")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as err:
        raise BundleError(f"the rotation record is malformed: {err!r}") from err
    if not isinstance(raw["role"], str) or isinstance(raw["threshold"], bool) or not isinstance(raw["threshold"], int):
        raise BundleError("a rotation record's role must be a string and its threshold an integer")
    if not keys or not 1 <= raw["threshold"] <= len(keys):
        raise BundleError(f"a rotation to {len(keys)} key(s) needs a threshold from 1 to {len(keys)}")
    return Rotation(role=raw["role"], threshold=raw["threshold"], keys=keys, created=created)


def apply_rotation(trust: TrustStore, record: bytes) -> Rotation:
    """Check ``record`` against ``trust`` and change ``trust`` as it says (the caller saves, under the lock).

    Raises:
        BundleError: a malformed record; SignatureError, UnknownKeyError, RevokedKeyError, ThresholdError: fewer
            than the role's threshold of its current unrevoked keys signed it (a replayed record: revoked).
        TrustStoreError: the role is not defined, or a listed key was revoked before.
    """
    envelope = loads_envelope(record, max_bytes=MAX_ROTATION_BYTES, payload_type=ROTATION_PAYLOAD_TYPE)
    rotation = _parse(envelope.payload)
    role = trust.roles.get(rotation.role)
    if role is None:
        raise TrustStoreError(f"the rotation record names role {rotation.role!r}, which this trust store lacks")
    verdicts = check_signatures(trust, envelope)
    signed = sum(v.verdict == "valid" and rotation.role in v.roles for v in verdicts)
    if signed < role.threshold:
        error = signature_error(verdicts, []) if signed == 0 else None  # why no key counted: revoked, unknown, ...
        raise error or ThresholdError(
            f"{signed} current key(s) of role {rotation.role!r} signed the rotation; its threshold is {role.threshold}"
        )
    listed = {key_id(pub) for pub, _ in rotation.keys}
    for key in list(trust.keys.values()):
        if rotation.role in key.roles and key.revoked is None and key.keyid not in listed:
            trust.revoke_key(key.keyid, rotation.created)
    for pub, name in rotation.keys:
        old = trust.keys.get(key_id(pub))
        trust.add_key(pub, roles=sorted({rotation.role, *(old.roles if old else ())}), name=name)
    trust.set_role(rotation.role, threshold=rotation.threshold, kinds=role.kinds, paths=role.paths)
    return rotation
