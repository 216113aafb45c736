"""Show what a bundle claims without trusting it: members, signatures, manifest, marked UNVERIFIED.

Inspection reads headers, the capped envelope and a runtime bundle's SBOM (:mod:`.sbom`), and skips other member
data; it writes nothing. With a trust store it
also runs the full verification (into a temporary staging folder, removed afterwards) and reports VERIFIED or
REJECTED with the verification report; without one, everything shown is UNVERIFIED.

Example::

    info = inspect_bundle(Path("model.bundle"), trust=None)
    print(info["status"])   # "UNVERIFIED"
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from offline_ner.bundle._tar import TarReader
from offline_ner.bundle.envelope import loads_envelope
from offline_ner.bundle.manifest import DEFAULT_LIMITS, Limits, loads_manifest, manifest_digest, manifest_to_dict
from offline_ner.bundle.sbom import SBOM_MEMBER, read_sbom_member
from offline_ner.bundle.trust import TrustStore
from offline_ner.bundle.verify import read_head, verify_bundle
from offline_ner.errors import BundleError


def inspect_bundle(
    path: Path, trust: TrustStore | None = None, *, now: datetime | None = None, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Everything the bundle says about itself; ``status`` is VERIFIED only if full verification passed.

    Raises:
        BundleError: the file is not a readable bundle at all (bad magic, unreadable envelope).
    """
    info: dict[str, Any] = {"bundle": str(path), "status": "UNVERIFIED", "verified": False, "problems": []}
    try:
        with open(path, "rb") as handle:
            reader = TarReader(handle)
            envelope = loads_envelope(read_head(reader, limits)[0], max_bytes=limits.max_envelope_bytes)
            info["payload_type"] = envelope.payload_type
            info["signatures"] = [{"keyid": s.keyid} for s in envelope.signatures]
            info["digest"] = manifest_digest(envelope.payload)
            try:
                info["manifest"] = manifest_to_dict(loads_manifest(envelope.payload))
            except BundleError as err:
                info["problems"].append(f"manifest: {err}")
            members = []
            try:
                while (member := reader.next_member()) is not None:
                    members.append({"name": member.name, "size": member.size})
                    if member.name == SBOM_MEMBER:
                        info["sbom"] = read_sbom_member(reader, member)
            except BundleError as err:
                info["problems"].append(f"members: {err}")
            info["members"] = members
    except OSError as err:
        raise BundleError(f"cannot read bundle {path}: {err.strerror}") from err
    if trust is not None:
        try:
            with verify_bundle(Path(path), trust, now=now, limits=limits) as verified:
                info["verification"] = verified.report.to_json()
        except BundleError as err:
            info["verification"] = err.report.to_json() if err.report is not None else {"error": str(err)}
            info["verification_error"] = {
                "type": type(err).__name__,
                "exit_code": int(err.exit_code),
                "message": str(err),
            }
        else:
            info.update(status="VERIFIED", verified=True)
    return info
