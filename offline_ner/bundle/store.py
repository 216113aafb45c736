"""The closed side's content store: verified bundles, moved in atomically, and the references that name them.

Layout (docs/bundle-format.md, "Content store")::

    STORE/objects/<digest>/payload/...        the verified payload, read-only
    STORE/objects/<digest>/envelope.json      the signed envelope, to re-verify or audit later
    STORE/refs/<stream>/<sequence>            the digest imported for that stream and sequence
    STORE/.staging/                           private verification folders (same file system: rename is atomic)

Importing holds the trust store's lock (:meth:`TrustStore.locked`, taken before the store is read) and then the
content store's, verifies into ``.staging``, renames the folder into ``objects/``, writes the ref, and only then
advances the trust store's stream ratchet, so a crash at any point leaves either no trace or a complete object
that a repeated import finishes; what a crash left in ``.staging`` is removed by the next import, under the lock. Importing the same bundle again changes nothing. References
``bundle:<stream>[@<sequence>]/<path>`` resolve to files inside verified objects only.

Example::

    result = import_bundle(Path("conll-llm-3.bundle"), trust, Path("store"))
    records_path = resolve_reference("bundle:conll-llm/records.jsonl", Path("store"))
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from offline_ner._fs import atomic_write_text, fsync_dir
from offline_ner.bundle.manifest import DEFAULT_LIMITS, STREAM_RE, Limits, check_path
from offline_ner.bundle.trust import TrustStore
from offline_ner.bundle.verify import Progress, verify_bundle
from offline_ner.contracts import BUNDLE_PREFIX
from offline_ner.errors import BundleError, MissingFileError, UnsafePathError

REFERENCE_RE = re.compile(re.escape(BUNDLE_PREFIX) + r"(?P<stream>[^@/]+)(@(?P<sequence>\d+))?/(?P<path>.*)")


@dataclass(frozen=True)
class ImportResult:
    """Where an imported bundle's payload lives, and whether this import changed anything."""

    digest: str
    kind: str
    stream: str
    sequence: int
    payload_dir: Path
    already_imported: bool


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """One import at a time per content store (imports into one store may use different trust stores)."""
    store.mkdir(parents=True, exist_ok=True)
    with open(store / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _clear_staging(staging: Path) -> None:
    """Remove what a killed import left in staging (only called under the store lock: nothing else uses it)."""
    if not staging.is_dir():
        return
    for entry in staging.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            for folder, _, _ in os.walk(entry):  # a crash after _make_read_only leaves 0555 folders
                os.chmod(folder, 0o700)
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _make_read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o555)


def import_bundle(
    path: Path,
    trust: TrustStore,
    store: Path,
    *,
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> ImportResult:
    """Verify ``path`` and move its payload into ``store``; record the stream's new sequence in ``trust``.

    A ``trust`` with a path is re-read from that path under its lock, so the rollback check and the saved ratchet
    always see every earlier import; ``trust`` is then updated to what was saved. One without a path (in memory)
    is used and changed as it is.

    Raises:
        BundleError and its subclasses, from :func:`verify_bundle` (store and trust store unchanged).
        TrustStoreError: the trust store cannot be saved.
    """
    store = Path(store)
    locked = TrustStore.locked(trust.path) if trust.path is not None else contextlib.nullcontext(trust)
    with locked as current, _locked(store):
        _clear_staging(store / ".staging")
        verified = verify_bundle(
            path, current, now=now, limits=limits, staging_root=store / ".staging", progress=progress
        )
        with verified:
            manifest, digest = verified.manifest, verified.digest
            target = store / "objects" / digest
            already = target.is_dir()
            if not already:
                (verified.staging_dir / "envelope.json").write_bytes(verified.envelope)
                (verified.payload_dir).mkdir(exist_ok=True)  # an empty payload still gets its folder
                _make_read_only(verified.staging_dir)
                os.chmod(verified.staging_dir, 0o555)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(verified.staging_dir, target)
                fsync_dir(target.parent)
            ref = store / "refs" / manifest.stream / str(manifest.sequence)
            if not ref.is_file():
                atomic_write_text(ref, digest + "\n")
            if current.record_accepted(manifest, digest):  # False for the very same bundle again
                current.save()
    trust.keys, trust.roles, trust.streams = current.keys, current.roles, current.streams
    return ImportResult(
        digest=digest,
        kind=manifest.kind,
        stream=manifest.stream,
        sequence=manifest.sequence,
        payload_dir=target / "payload",
        already_imported=already,
    )


def resolve_reference(reference: str, store: Path) -> Path:
    """The path of a verified imported file or folder named ``bundle:<stream>[@<sequence>]/<path>``.

    Without ``@<sequence>`` the highest imported sequence of the stream is used. An empty path (``bundle:s/``)
    names the payload folder itself; a path ending in '/' names a folder inside it.

    Raises:
        BundleError: the reference is malformed.
        MissingFileError: no such stream, sequence or payload path in the store.
    """
    match = REFERENCE_RE.fullmatch(reference)
    if match is None or not STREAM_RE.fullmatch(match["stream"]):
        raise BundleError(f"{reference!r} is not a bundle reference like 'bundle:<stream>[@<sequence>]/<path>'")
    refs = Path(store) / "refs" / match["stream"]
    sequences = sorted(int(p.name) for p in refs.iterdir() if p.name.isdigit()) if refs.is_dir() else []
    if not sequences:
        raise MissingFileError(f"no bundle of stream {match['stream']!r} is imported in {store}; run 'bundle import'")
    sequence = int(match["sequence"]) if match["sequence"] else sequences[-1]
    if sequence not in sequences:
        raise MissingFileError(f"stream {match['stream']!r} has no imported sequence {sequence} (have {sequences})")
    digest = (refs / str(sequence)).read_text().strip()
    payload = Path(store) / "objects" / digest / "payload"
    inner = match["path"].rstrip("/")
    if inner:
        try:
            check_path(inner)
        except UnsafePathError as err:
            raise BundleError(f"{reference!r}: {err}") from err
    target = payload / inner if inner else payload
    if not target.exists() or (reference.endswith("/") and not target.is_dir()):
        raise MissingFileError(f"{reference!r}: no {inner!r} in the payload of {match['stream']}@{sequence}")
    return target
