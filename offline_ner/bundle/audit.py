"""Which imported content each trusted key signed: what an operator must review when a key is revoked.

Each imported object keeps its signed envelope (``STORE/objects/<digest>/envelope.json``); every signature in it
is verified again with the trust store's key, so a key id an envelope merely claims never counts. Revoked keys
are listed too: that is the point.

Example::

    for keyid, imports in signed_imports(TrustStore.load(Path("trust.json")), Path("store")).items():
        print(keyid, [f"{i.stream}@{i.sequence}" for i in imports])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from offline_ner.bundle.envelope import loads_envelope, pae
from offline_ner.bundle.manifest import DEFAULT_LIMITS, format_time, loads_manifest
from offline_ner.bundle.signing import verify_signature
from offline_ner.bundle.trust import TrustStore
from offline_ner.errors import BundleError


@dataclass(frozen=True)
class SignedImport:
    """One imported bundle (stream, sequence) and what it is."""

    stream: str
    sequence: int
    digest: str
    kind: str
    created: str


def signed_imports(trust: TrustStore, store: Path) -> dict[str, list[SignedImport]]:
    """For every key in ``trust`` (revoked ones included), the imported bundles its signature verifies on.

    Raises:
        BundleError: an imported object's envelope is missing or unreadable (the store was changed by hand).
    """
    found: dict[str, list[SignedImport]] = {keyid: [] for keyid in trust.keys}
    refs = Path(store) / "refs"
    numbered = [ref for ref in refs.glob("*/*") if ref.name.isdigit()] if refs.is_dir() else []
    for ref in sorted(numbered, key=lambda ref: (ref.parent.name, int(ref.name))):
        digest = ref.read_text().strip()
        path = Path(store) / "objects" / digest / "envelope.json"
        try:
            envelope = loads_envelope(path.read_bytes(), max_bytes=DEFAULT_LIMITS.max_envelope_bytes)
        except OSError as err:
            raise BundleError(f"imported object {digest} has no readable envelope ({path}): {err.strerror}") from err
        manifest = loads_manifest(envelope.payload)
        entry = SignedImport(ref.parent.name, int(ref.name), digest, manifest.kind, format_time(manifest.created))
        message = pae(envelope.payload_type, envelope.payload)
        signers = {
            s.keyid for s in envelope.signatures if s.keyid in trust.keys
            and verify_signature(trust.keys[s.keyid].public_key, s, message)
        }
        for keyid in sorted(signers):
            found[keyid].append(entry)
    return found
