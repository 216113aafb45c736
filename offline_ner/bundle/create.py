"""Create a signed bundle: one reproducible, uncompressed tar with the magic member, the envelope, the payload.

Identical input (files, kind, stream, sequence, created, expires, keys) gives byte-identical output: members in
manifest order, mtime from ``created``, uid/gid 0, mode 0644, signatures sorted by key id (Ed25519 is
deterministic). Files are hashed once to write the manifest and again while copied, so a source that changes
mid-way fails instead of producing a bundle that never verifies. Written atomically.

Example::

    key = load_private_key(Path("keys/release.key"), passphrase)
    create_bundle(Path("export/"), kind="annotations", stream="conll-llm", sequence=3, keys=[key],
                  out=Path("conll-llm-3.bundle"))
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner import __version__
from offline_ner._fs import atomic_writer, sha256_file
from offline_ner.bundle import _tar
from offline_ner.bundle.contents import PayloadFile, collect_sources
from offline_ner.bundle.envelope import PAYLOAD_TYPE, Envelope, dumps_envelope, pae
from offline_ner.bundle.manifest import (
    DEFAULT_LIMITS,
    ENVELOPE_NAME,
    KINDS,
    MAGIC,
    MAGIC_NAME,
    MAX_SEQUENCE,
    PAYLOAD_PREFIX,
    STREAM_RE,
    FileEntry,
    Limits,
    Manifest,
    check_limits,
    check_paths,
    dumps_manifest,
)
from offline_ner.bundle.model_signature import NO_MODEL_SIGNING, ModelSigning
from offline_ner.bundle.signing import key_id, sign
from offline_ner.errors import BundleError, LimitExceededError


def default_created() -> datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now; whole seconds, UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.replace(microsecond=0)


def _entry(item: PayloadFile) -> FileEntry:
    if item.data is not None:
        return FileEntry(item.path, len(item.data), hashlib.sha256(item.data).hexdigest())
    assert item.source is not None
    entry = FileEntry(item.path, item.source.stat().st_size, sha256_file(item.source))
    if item.sha256 is not None and entry.sha256 != item.sha256:
        raise BundleError(f"{item.source} changed after its lock or model signature was made; nothing was kept, "
                          "try again")
    return entry


def _copy_payload(out: IO[bytes], item: PayloadFile, entry: FileEntry, mtime: int) -> None:
    out.write(_tar.member_header(PAYLOAD_PREFIX + entry.path, entry.size, mtime))
    if item.data is not None:
        out.write(item.data)
    else:
        assert item.source is not None
        digest, size = hashlib.sha256(), 0
        with open(item.source, "rb") as handle:
            while chunk := handle.read(_tar.CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if size != entry.size or digest.hexdigest() != entry.sha256:
            raise BundleError(f"{item.source} changed while the bundle was written; nothing was kept, try again")
    out.write(_tar.padding(entry.size))


def build_manifest(
    files: list[FileEntry],
    provenance: dict[str, object],
    *,
    kind: str,
    stream: str,
    sequence: int,
    created: datetime,
    expires: datetime | None,
) -> Manifest:
    """A manifest for ``files`` after checking the caller's kind, stream and sequence.

    Raises:
        BundleError: an unknown kind, a bad stream name or sequence, expiry not after creation.
        UnsafePathError: an unsafe or colliding payload path.
    """
    if kind not in KINDS:
        raise BundleError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not STREAM_RE.fullmatch(stream):
        raise BundleError(f"stream name {stream!r} must match {STREAM_RE.pattern}")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 1 <= sequence <= MAX_SEQUENCE:
        raise BundleError(f"sequence must be an integer from 1 to {MAX_SEQUENCE}, not {sequence!r}")
    if expires is not None and expires <= created:
        raise BundleError("the expiry time must be after the creation time")
    check_paths(entry.path for entry in files)
    return Manifest(
        kind=kind,
        stream=stream,
        sequence=sequence,
        created=created,
        expires=expires,
        producer={"name": "offline-ner", "version": __version__},
        provenance=dict(provenance),
        files=tuple(files),
    )


def create_bundle(
    source: Path,
    *,
    kind: str,
    stream: str,
    sequence: int,
    keys: list[Ed25519PrivateKey],
    out: Path,
    expires: datetime | None = None,
    created: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    model_signing: ModelSigning = NO_MODEL_SIGNING,
) -> Path:
    """Bundle ``source`` as ``kind``, sign the manifest with every key in ``keys``, write ``out`` atomically.

    ``model_signing`` (model bundles): also sign the folder for OpenSSF Model Signing, or check its upstream signature.

    Returns:
        ``out``.

    Raises:
        BundleError: the source does not fit the kind, bad stream/sequence, a file changed while written.
        SignatureError: a model folder does not verify against its upstream ``model.sig``.
        UnsafePathError: a payload path is unsafe or collides with another.
        LimitExceededError: the bundle would exceed ``limits`` (a verifier would refuse it).
        DataError: annotation records are malformed.
    """
    if not keys:
        raise ValueError("create_bundle needs at least one signing key")
    created = (created or default_created()).replace(microsecond=0)
    items, provenance = collect_sources(kind, Path(source), model_signing)
    entries = [_entry(item) for item in items]
    manifest = build_manifest(
        entries,
        provenance,
        kind=kind,
        stream=stream,
        sequence=sequence,
        created=created,
        expires=expires.replace(microsecond=0) if expires else None,
    )
    check_limits(manifest, limits)
    payload = dumps_manifest(manifest)
    message = pae(PAYLOAD_TYPE, payload)
    unique = {key_id(key.public_key()): key for key in keys}  # the same key given twice signs once
    envelope = dumps_envelope(Envelope(PAYLOAD_TYPE, payload, tuple(sign(k, message) for k in unique.values())))
    if len(envelope) > limits.max_envelope_bytes:
        raise LimitExceededError(f"the envelope would be {len(envelope)} bytes; split the payload into bundles")
    mtime = int(created.timestamp())
    with atomic_writer(out, "wb", permissions=0o644) as handle:  # public: only the signatures matter
        for name, data in ((MAGIC_NAME, MAGIC), (ENVELOPE_NAME, envelope)):
            handle.write(_tar.member_header(name, len(data), mtime))
            handle.write(data + _tar.padding(len(data)))
        for item, entry in zip(items, entries, strict=True):
            _copy_payload(handle, item, entry, mtime)
        handle.write(_tar.END_OF_ARCHIVE)
    return Path(out)
