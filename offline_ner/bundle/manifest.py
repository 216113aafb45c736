"""The manifest: what a bundle claims to hold, and the pure rules every claim must obey.

A manifest lists each payload file with its size and sha256, the bundle's kind, stream and sequence, its creation
and optional expiry time, the producer and a provenance summary. It is serialised in exactly one canonical form
(sorted keys, no spaces, ASCII), so the bytes that are signed are the bytes that are parsed, and shell tools can
read a verified manifest (``install.sh``). This module does no I/O and imports nothing heavy; it does not verify
signatures (``envelope``/``trust``) or read tar members (``_tar``).

Example::

    manifest = loads_manifest(payload_bytes)          # BundleError / UnsafePathError / LimitExceededError
    check_limits(manifest, Limits())
    assert dumps_manifest(manifest) == payload_bytes
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from offline_ner.errors import BundleError, LimitExceededError, UnsafePathError

FORMAT = "offline-ner-bundle/1"
# the tar layout: this magic member first, then the envelope, then payload files in manifest order
MAGIC_NAME = "offline-ner-bundle"
MAGIC = b"offline-ner-bundle 1\n"
ENVELOPE_NAME = "envelope.json"
PAYLOAD_PREFIX = "payload/"
KINDS = ("annotations", "model", "runtime")
MAX_PATH_BYTES = 1024  # Linux PATH_MAX is 4096; a payload path never needs more than this
MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux, macOS and Windows file systems
STREAM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
MAX_SEQUENCE = 2**53 - 1  # exact in every JSON reader, including the shell's and JavaScript's
_FIELDS = {"format", "kind", "stream", "sequence", "created", "expires", "producer", "provenance", "files"}
_FILE_FIELDS = {"path", "size", "sha256"}


@dataclass(frozen=True)
class Limits:
    """Caps a verifier enforces before it reads data, so a hostile bundle cannot exhaust memory or disk."""

    max_files: int = 10_000  # a wheelhouse with torch has ~100 files, a model folder ~10
    max_file_bytes: int = 64 * 2**30  # a single safetensors shard of a 30B model stays under this
    max_total_bytes: int = 256 * 2**30  # larger than any model or wheelhouse we ship, smaller than a disk
    max_envelope_bytes: int = 8 * 2**20  # 10k file entries are ~1.5 MB of manifest, ~2 MB in base64


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class FileEntry:
    """One payload file as the manifest declares it."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The signed description of a bundle; ``files`` is in bundle (sorted path) order."""

    kind: str
    stream: str
    sequence: int
    created: datetime
    files: tuple[FileEntry, ...]
    expires: datetime | None = None
    producer: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires


def check_path(path: object) -> str:
    """Return ``path`` if it is a safe relative payload path, else raise UnsafePathError.

    Safe means: a non-empty string of '/'-separated components, none empty, '.' or '..', no leading '/', no
    backslash, colon, NUL or other control character, and within common name length limits. Such a path, joined to
    any directory, names a file strictly inside that directory on POSIX and Windows alike.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"payload path must be a non-empty string, not {path!r}")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError as err:  # lone surrogates cannot be written as a file name portably
        raise UnsafePathError(f"payload path {path!r} is not valid Unicode") from err
    if len(encoded) > MAX_PATH_BYTES:
        raise UnsafePathError(f"payload path {path[:60]!r}... is longer than {MAX_PATH_BYTES} bytes")
    bad = [ch for ch in path if ch in "\\:" or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    if bad:
        # backslash and ':' are separators or drive letters on Windows; control characters hide in listings
        raise UnsafePathError(f"payload path {path!r} contains a forbidden character {bad[0]!r}")
    components = path.split("/")
    if any(part in ("", ".", "..") for part in components):
        raise UnsafePathError(f"payload path {path!r} is absolute or has an empty, '.' or '..' component")
    if any(len(part.encode("utf-8")) > MAX_COMPONENT_BYTES for part in components):
        raise UnsafePathError(f"payload path {path[:60]!r} has a component longer than {MAX_COMPONENT_BYTES} bytes")
    return path


def collision_key(path: str) -> str:
    """The name a case-insensitive, normalising file system (macOS, Windows) would store ``path`` under."""
    return unicodedata.normalize("NFC", path).casefold()


def check_paths(paths: Iterable[str]) -> list[str]:
    """Check each path and that no two collide on any file system (duplicates, case, NFC, file-vs-folder).

    Raises:
        UnsafePathError: the first unsafe path or collision found.
    """
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    checked = []
    for path in paths:
        check_path(path)
        key = collision_key(path)
        if key in files:
            raise UnsafePathError(
                f"payload paths {files[key]!r} and {path!r} collide (duplicate, case or Unicode form)"
            )
        if key in folders:
            raise UnsafePathError(f"payload path {path!r} is both a file and the folder of {folders[key]!r}")
        files[key] = path
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in files:
                raise UnsafePathError(f"payload path {path!r} puts a file inside the file {files[folder]!r}")
            folders.setdefault(folder, path)
        checked.append(path)
    return checked


def check_limits(manifest: Manifest, limits: Limits) -> None:
    """Refuse a manifest whose declared sizes or count exceed ``limits``, before anything is read or written."""
    if len(manifest.files) > limits.max_files:
        raise LimitExceededError(f"manifest lists {len(manifest.files)} files; the limit is {limits.max_files}")
    for entry in manifest.files:
        if entry.size > limits.max_file_bytes:
            raise LimitExceededError(
                f"{entry.path!r} declares {entry.size} bytes; the per-file limit is {limits.max_file_bytes}"
            )
    if manifest.total_bytes > limits.max_total_bytes:
        raise LimitExceededError(
            f"manifest declares {manifest.total_bytes} bytes in all; the limit is {limits.max_total_bytes}"
        )


def format_time(moment: datetime) -> str:
    """UTC, whole seconds, 'Z' suffix: the only time form a manifest holds."""
    if moment.tzinfo is None:
        raise ValueError("manifest times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, name: str) -> datetime:
    if not isinstance(text, str) or not TIME_RE.fullmatch(text):
        raise BundleError(f"manifest {name!r} must be a UTC time like 2026-01-31T12:00:00Z, not {text!r}")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError as err:
        raise BundleError(f"manifest {name!r} is not a valid time: {text!r}") from err


def canonical_json_bytes(obj: Any) -> bytes:
    """The one serialisation used for signed JSON, as ASCII bytes: sorted keys, no whitespace, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def manifest_to_dict(manifest: Manifest) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "kind": manifest.kind,
        "stream": manifest.stream,
        "sequence": manifest.sequence,
        "created": format_time(manifest.created),
        "expires": format_time(manifest.expires) if manifest.expires is not None else None,
        "producer": manifest.producer,
        "provenance": manifest.provenance,
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in manifest.files],
    }


def dumps_manifest(manifest: Manifest) -> bytes:
    """Canonical manifest bytes (what is signed)."""
    return canonical_json_bytes(manifest_to_dict(manifest))


def manifest_digest(payload: bytes) -> str:
    """A bundle's identity: the sha256 of its manifest bytes (they pin every file's hash)."""
    return hashlib.sha256(payload).hexdigest()


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise BundleError("manifest JSON repeats a key; a second reader could see a different value")
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise BundleError(f"manifest JSON contains {name}, which is not valid JSON")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_entry(raw: object, index: int) -> FileEntry:
    if not isinstance(raw, dict) or set(raw) != _FILE_FIELDS:
        raise BundleError(f"manifest files[{index}] must be an object with exactly path, size and sha256")
    path = check_path(raw["path"])
    size = raw["size"]
    if not _is_int(size) or size < 0:
        raise BundleError(f"manifest files[{index}] ({path!r}) size must be a non-negative integer")
    digest = raw["sha256"]
    if not isinstance(digest, str) or not SHA256_RE.fullmatch(digest):
        raise BundleError(f"manifest files[{index}] ({path!r}) sha256 must be 64 lowercase hex digits")
    return FileEntry(path=path, size=size, sha256=digest)


def loads_manifest(payload: bytes) -> Manifest:
    """Parse and check manifest bytes; accepts only the canonical form :func:`dumps_manifest` writes.

    Raises:
        BundleError: not JSON, a missing, unknown or ill-typed field, files out of order, not canonical.
        UnsafePathError: an unsafe or colliding payload path.
    """
    try:
        raw = json.loads(payload, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise BundleError(f"manifest is not valid JSON: {err}") from err
    if not isinstance(raw, dict) or set(raw) != _FIELDS:
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise BundleError(f"manifest must be an object with exactly the fields {sorted(_FIELDS)}; found {found}")
    if raw["format"] != FORMAT:
        raise BundleError(f"manifest format {raw['format']!r} is not {FORMAT!r}; upgrade offline-ner to read it")
    if raw["kind"] not in KINDS:
        raise BundleError(f"manifest kind {raw['kind']!r} is not one of {', '.join(KINDS)}")
    if not isinstance(raw["stream"], str) or not STREAM_RE.fullmatch(raw["stream"]):
        raise BundleError(f"manifest stream {raw['stream']!r} must match {STREAM_RE.pattern}")
    if not _is_int(raw["sequence"]) or not 1 <= raw["sequence"] <= MAX_SEQUENCE:
        raise BundleError(f"manifest sequence {raw['sequence']!r} must be an integer from 1 to {MAX_SEQUENCE}")
    for name in ("producer", "provenance"):
        if not isinstance(raw[name], dict):
            raise BundleError(f"manifest {name!r} must be an object")
    if not isinstance(raw["files"], list):
        raise BundleError("manifest 'files' must be a list")
    files = tuple(_parse_entry(item, index) for index, item in enumerate(raw["files"]))
    paths = [entry.path for entry in files]
    if paths != sorted(paths):
        raise BundleError("manifest files are not sorted by path; bundles list them in one order only")
    check_paths(paths)
    manifest = Manifest(
        kind=raw["kind"],
        stream=raw["stream"],
        sequence=raw["sequence"],
        created=parse_time(raw["created"], "created"),
        expires=None if raw["expires"] is None else parse_time(raw["expires"], "expires"),
        producer=raw["producer"],
        provenance=raw["provenance"],
        files=files,
    )
    if dumps_manifest(manifest) != payload:
        # one byte string per manifest: no second reading for a tool that parses differently
        raise BundleError("manifest is not in canonical form (sorted keys, no whitespace, ASCII)")
    return manifest
