"""Signed bundles: everything that crosses into the closed network, verified before a byte is unpacked.

Modules, one job each: ``manifest`` (pure rules: paths, sizes, hashes, canonical form, limits), ``envelope``
(DSSE-style signature envelope), ``signing`` (Ed25519), ``keys`` (key files), ``trust`` (trusted keys, roles,
thresholds, rollback ratchet), ``_tar`` (strict tar reader, deterministic writer), ``sources`` (what each kind carries),
``runtime`` (wheelhouse lock and install.sh), ``create``, ``verify``, ``inspection``, ``store`` (content store,
import, references), ``rotation`` (signed key-rotation records), ``audit`` (what each key signed). The format is
specified in ``docs/bundle-format.md`` at the repository root.

Example::

    create_bundle(Path("export"), kind="annotations", stream="conll-llm", sequence=1, keys=[key], out=out)
    result = import_bundle(out, TrustStore.load(Path("trust.json")), Path("store"))
    records = resolve_reference("bundle:conll-llm/records.jsonl", Path("store"))
"""

from offline_ner.bundle.create import create_bundle
from offline_ner.bundle.inspection import inspect_bundle
from offline_ner.bundle.keys import KeyPair, generate_key, load_private_key, load_public_key
from offline_ner.bundle.manifest import FileEntry, Limits, Manifest
from offline_ner.bundle.store import ImportResult, import_bundle, resolve_reference
from offline_ner.bundle.trust import Role, TrustStore
from offline_ner.bundle.verify import VerifiedBundle, verify_bundle

__all__ = [
    "FileEntry",
    "ImportResult",
    "KeyPair",
    "Limits",
    "Manifest",
    "Role",
    "TrustStore",
    "VerifiedBundle",
    "create_bundle",
    "generate_key",
    "import_bundle",
    "inspect_bundle",
    "load_private_key",
    "load_public_key",
    "resolve_reference",
    "verify_bundle",
]
