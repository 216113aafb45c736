"""The DSSE-style signature envelope: the manifest bytes, their payload type, and Ed25519 signatures.

Signatures cover ``PAE(payloadType, payload)`` (DSSE's pre-authentication encoding), so a signature a key made
for some other payload type can never be replayed as a manifest signature. The envelope is canonical JSON, read
with a size cap before anything else in the bundle; this module parses its structure only and decides nothing
about trust (``trust``) or the manifest's content (``manifest``).

Example::

    envelope = loads_envelope(data, max_bytes=limits.max_envelope_bytes)
    message = pae(envelope.payload_type, envelope.payload)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from offline_ner.bundle.manifest import canonical_json_bytes
from offline_ner.errors import BundleError, LimitExceededError

PAYLOAD_TYPE = "application/vnd.offline-ner.manifest.v1+json"
KEYID_RE = re.compile(r"[0-9a-f]{64}")
MAX_SIGNATURES = 32  # more signers than any threshold needs; bounds the work an attacker can ask for


@dataclass(frozen=True)
class Signature:
    """One signature as the envelope carries it; ``keyid`` is only a hint of which trusted key to try."""

    keyid: str
    sig: str  # base64, as in DSSE; decoded when verified so a garbled one is a failed signature, not a crash


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len(type)> <type> <len(body)> <body>``."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def dumps_envelope(envelope: Envelope) -> bytes:
    """Canonical envelope JSON; signatures sorted by key id so identical input gives identical bytes."""
    return canonical_json_bytes(
        {
            "payloadType": envelope.payload_type,
            "payload": base64.b64encode(envelope.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": s.sig} for s in sorted(envelope.signatures, key=lambda s: (s.keyid, s.sig))
            ],
        }
    )


def loads_envelope(data: bytes, *, max_bytes: int, payload_type: str = PAYLOAD_TYPE) -> Envelope:
    """Parse envelope bytes (structure only; signatures are checked by the caller). ``payload_type``: what the
    envelope must carry (a manifest, or a trust store's key-rotation record).

    Raises:
        LimitExceededError: more than ``max_bytes`` or more than MAX_SIGNATURES signatures.
        BundleError: not JSON, wrong fields, an unexpected payload type, payload not base64.
    """
    if len(data) > max_bytes:
        raise LimitExceededError(f"signature envelope is {len(data)} bytes; the limit is {max_bytes}")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise BundleError(f"signature envelope is not valid JSON: {err}") from err
    if not isinstance(raw, dict) or set(raw) != {"payloadType", "payload", "signatures"}:
        raise BundleError("signature envelope must be an object with exactly payloadType, payload and signatures")
    if raw["payloadType"] != payload_type:
        raise BundleError(f"envelope payload type {raw['payloadType']!r} is not {payload_type!r}")
    if not isinstance(raw["payload"], str):
        raise BundleError("envelope payload must be a base64 string")
    try:
        payload = base64.b64decode(raw["payload"], validate=True)
    except (binascii.Error, ValueError) as err:
        raise BundleError(f"envelope payload is not valid base64: {err}") from err
    sigs = raw["signatures"]
    if not isinstance(sigs, list):
        raise BundleError("envelope signatures must be a list")
    if len(sigs) > MAX_SIGNATURES:
        raise LimitExceededError(f"envelope carries {len(sigs)} signatures; the limit is {MAX_SIGNATURES}")
    signatures = []
    for index, item in enumerate(sigs):
        if not isinstance(item, dict) or set(item) != {"keyid", "sig"}:
            raise BundleError(f"envelope signatures[{index}] must be an object with exactly keyid and sig")
        if not isinstance(item["keyid"], str) or not KEYID_RE.fullmatch(item["keyid"]):
            raise BundleError(f"envelope signatures[{index}] keyid must be 64 lowercase hex digits")
        if not isinstance(item["sig"], str):
            raise BundleError(f"envelope signatures[{index}] sig must be a base64 string")
        signatures.append(Signature(keyid=item["keyid"], sig=item["sig"]))
    envelope = Envelope(payload_type=raw["payloadType"], payload=payload, signatures=tuple(signatures))
    if dumps_envelope(envelope) != data:
        # one byte string per envelope, as for the manifest: install.sh reads it with sed, not a JSON parser
        raise BundleError("signature envelope is not in canonical form (sorted keys and signatures, no whitespace)")
    return envelope
