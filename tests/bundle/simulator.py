"""The bundle simulator, in the spirit of python-tuf's ``tests/repository_simulator.py``: it lays out a valid
signed bundle member by member, a test changes one thing (a member's bytes, a manifest field, a signer) and writes
it, then asserts what the verifier did and left behind (:class:`Verifier`)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, verify_bundle
from offline_ner.bundle._tar import END_OF_ARCHIVE, padding
from offline_ner.bundle.envelope import PAYLOAD_TYPE, Envelope, Signature, dumps_envelope, pae
from offline_ner.bundle.manifest import MAGIC, canonical_json_bytes
from offline_ner.bundle.signing import sign
from offline_ner.contracts import VerificationReport
from offline_ner.errors import BundleError

CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)  # verification time: after CREATED, before any test's expiry
RECORDS = [
    {"id": "d1-s0", "tokens": ["Alice", "flew", "to", "Oslo", "."], "tags": ["B-PER", "O", "O", "B-LOC", "O"]},
    {"id": "d1-s1", "tokens": ["Acme", "Corp", "hired", "her", "."], "tags": ["B-ORG", "I-ORG", "O", "O", "O"]},
]
PROVENANCE = {"llm_model": "gpt-4-0613", "prompt_template_sha256": "0" * 64, "temperature": 0.0, "qa": {"kept": 2}}


def fixed_key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def records_jsonl(records: list[dict[str, Any]] = RECORDS) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()


@dataclass
class Member:
    """One tar member as the simulator writes it; ``size`` overrides the header's size field, ``mtime`` its
    modification time (else the manifest's ``created``)."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    fmt: int = tarfile.PAX_FORMAT  # what the bundle writer uses
    size: int | None = None
    mtime: int | None = None

    def to_bytes(self) -> bytes:
        info = tarfile.TarInfo(self.name)
        info.size = len(self.data) if self.size is None else self.size
        info.type, info.linkname, info.mode = self.type, self.linkname, 0o644
        info.mtime = int(CREATED.timestamp()) if self.mtime is None else self.mtime
        info.uname = info.gname = ""
        if self.type in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE):
            info.size = 0 if self.size is None else self.size
        return info.tobuf(self.fmt, "utf-8", "surrogateescape") + self.data + padding(len(self.data))


@dataclass
class BundleSimulator:
    """A valid signed annotations bundle, built from parts a test can change one line at a time."""

    root: Path
    signers: list[Ed25519PrivateKey]
    files: dict[str, bytes] = field(
        default_factory=lambda: {
            "provenance.json": json.dumps(PROVENANCE, sort_keys=True).encode(),
            "qa.json": b'{"dropped": 0}',
            "records.jsonl": records_jsonl(),
        }
    )
    fields: dict[str, Any] = field(
        default_factory=lambda: {
            "format": "offline-ner-bundle/1",
            "kind": "annotations",
            "stream": "conll-llm",
            "sequence": 1,
            "created": "2026-01-01T00:00:00Z",
            "expires": None,
            "producer": {"name": "offline-ner", "version": "0.1.0"},
            "provenance": {"records": 2, "exporter": PROVENANCE},
        }
    )
    listed: dict[str, bytes] | None = None  # what the manifest lists, when it differs from what the tar holds
    payload_type: str = PAYLOAD_TYPE
    extra_signatures: list[Signature] = field(default_factory=list)

    def manifest_dict(self) -> dict[str, Any]:
        listed = self.files if self.listed is None else self.listed
        entries = [
            {"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for p, d in sorted(listed.items())
        ]
        return {**self.fields, "files": entries}

    def manifest_bytes(self) -> bytes:
        return canonical_json_bytes(self.manifest_dict())

    def envelope_bytes(self, manifest: bytes | None = None) -> bytes:
        manifest = self.manifest_bytes() if manifest is None else manifest
        message = pae(self.payload_type, manifest)
        sigs = tuple(sign(key, message) for key in self.signers) + tuple(self.extra_signatures)
        return dumps_envelope(Envelope(PAYLOAD_TYPE, manifest, sigs))

    def members(self) -> list[Member]:
        return [Member("offline-ner-bundle", MAGIC), Member("envelope.json", self.envelope_bytes())] + [
            Member(f"payload/{path}", data) for path, data in sorted(self.files.items())
        ]

    def write(
        self, members: list[Member] | None = None, name: str = "test.bundle", trailer: bytes = END_OF_ARCHIVE
    ) -> Path:
        members = self.members() if members is None else members
        path = self.root / name
        path.write_bytes(b"".join(m.to_bytes() for m in members) + trailer)
        return path

    def with_member(self, name: str, **changes: Any) -> list[Member]:
        """The members with the one named ``name`` changed (``data=...``, ``type=...``)."""
        return [replace(m, **changes) if m.name == name else m for m in self.members()]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to prove nothing was written or changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Verifier:
    """Runs verify_bundle with a known staging root and checks what it left behind."""

    def __init__(self, root: Path, trust: TrustStore) -> None:
        self.root = root
        self.trust = trust
        self.staging = root / "staging"
        self.staging.mkdir(exist_ok=True)

    def rejects(self, bundle: Path, exit_code: int, **kwargs: Any) -> BundleError:
        """Assert verification fails with ``exit_code``, leaving staging empty and every other file unchanged."""
        before = snapshot(self.root)
        with pytest.raises(BundleError) as info:
            verify_bundle(bundle, self.trust, now=kwargs.pop("now", NOW), staging_root=self.staging, **kwargs)
        assert info.value.exit_code == exit_code, f"{type(info.value).__name__}: {info.value}"
        assert list(self.staging.iterdir()) == [], "staging must be empty after a rejected bundle"
        assert snapshot(self.root) == before, "a rejected bundle must not change or add any file"
        assert isinstance(info.value.report, VerificationReport)
        return info.value

    def accepts(self, bundle: Path, **kwargs: Any) -> VerificationReport:
        with verify_bundle(bundle, self.trust, now=kwargs.pop("now", NOW), staging_root=self.staging, **kwargs) as v:
            for entry in v.manifest.files:
                assert (v.payload_dir / entry.path).stat().st_size == entry.size
            report = v.report
        assert list(self.staging.iterdir()) == []
        return report
