"""Verify a bundle completely before anything leaves a private staging folder.

Order (docs/bundle-format.md, "Verification"): the magic member; the envelope, read with a size cap; the signatures
against the trust store, and a threshold met, before the manifest is parsed at all; the manifest's rules, limits,
policy, expiry and rollback ratchet; then each member streamed into staging, hashed while written and never past
its declared size. Every check is run and recorded in a report (each signature and file with its verdict); the
most severe failure is raised with the report attached as ``err.report``. On failure the staging folder is
removed; nothing is ever written outside it, and the trust store is only read.

Example::

    with verify_bundle(Path("conll.bundle"), TrustStore.load(Path("trust.json"))) as verified:
        records = read_jsonl(verified.payload_dir / "records.jsonl")
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from offline_ner._fs import make_owned, remove_dead_leftovers
from offline_ner.bundle._tar import Member, TarReader, TruncatedError
from offline_ner.bundle.envelope import loads_envelope
from offline_ner.bundle.manifest import (
    DEFAULT_LIMITS,
    ENVELOPE_NAME,
    MAGIC,
    MAGIC_NAME,
    PAYLOAD_PREFIX,
    FileEntry,
    Limits,
    Manifest,
    check_limits,
    check_path,
    collision_key,
    format_time,
    loads_manifest,
    manifest_digest,
)
from offline_ner.bundle.trust import (
    TrustStore,
    authorise,
    check_signatures,
    met_roles,
    policy_error,
    rollback_error,
    signature_error,
)
from offline_ner.contracts import VerificationReport
from offline_ner.errors import (
    BundleError,
    ExpiredError,
    ExtraFileError,
    HashMismatchError,
    LimitExceededError,
    MissingFileError,
    PolicyError,
    RevokedKeyError,
    RollbackError,
    SignatureError,
    ThresholdError,
    UnknownKeyError,
    UnsafePathError,
)

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

Progress = Callable[[int], object]

# most severe first: authenticity before safety before freshness before integrity of single files
SEVERITY: tuple[type[BundleError], ...] = (
    SignatureError,
    UnknownKeyError,
    RevokedKeyError,
    ThresholdError,
    PolicyError,
    UnsafePathError,
    RollbackError,
    ExpiredError,
    HashMismatchError,
    MissingFileError,
    ExtraFileError,
    LimitExceededError,
    BundleError,
)


def _rank(err: BundleError) -> int:
    return next(i for i, cls in enumerate(SEVERITY) if isinstance(err, cls))


@dataclass
class _Report:
    """Everything a verification found, in the shape ``--json`` prints."""

    bundle: str
    errors: list[BundleError] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    signatures: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, error: BundleError | None, detail: str = "") -> None:
        entry: dict[str, Any] = {"check": name, "verdict": "ok" if error is None else "failed"}
        if error is not None:
            self.errors.append(error)
            entry.update(error=type(error).__name__, exit_code=int(error.exit_code), message=str(error))
        elif detail:
            entry["message"] = detail
        self.checks.append(entry)

    def freeze(self) -> VerificationReport:
        return VerificationReport(
            bundle=self.bundle,
            verified=not self.errors,
            manifest=self.manifest,
            signatures=tuple(self.signatures),
            files=tuple(self.files),
            checks=tuple(self.checks),
        )

    def fail(self, error: BundleError | None = None) -> BundleError:
        """The most severe error, carrying the whole report (``report``); ``error`` is a hard stop recorded first."""
        if error is not None:
            self.check("structure", error)
        worst = min(self.errors, key=_rank)
        others = len(self.errors) - 1
        if others:
            worst.args = (f"{worst} (and {others} more failed check(s); see the report)",)
        worst.report = self.freeze()
        return worst


@dataclass
class VerifiedBundle:
    """A bundle that passed every check; its payload lies in a private staging folder until cleaned up."""

    path: Path
    manifest: Manifest
    digest: str
    envelope: bytes
    staging_dir: Path
    report: VerificationReport
    lock: int  # the staging folder's descriptor: while open, no other run takes the folder for a leftover

    def __post_init__(self) -> None:
        self._finalizer = weakref.finalize(self, _discard, self.staging_dir, self.lock)

    @property
    def payload_dir(self) -> Path:
        return self.staging_dir / "payload"

    def cleanup(self) -> None:
        """Remove the staging folder (``import_bundle`` moves it away first)."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


STAGING_PREFIX = ".verify-"


def _discard(staging: Path, lock: int) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    os.close(lock)


def read_head(reader: TarReader, limits: Limits) -> tuple[bytes, list[Member]]:
    """Check the magic member and return the envelope bytes, refusing an oversized one before reading it, and
    both members (their mtimes are checked once the manifest, which gives ``created``, is authenticated)."""
    try:
        magic = reader.next_member()
    except BundleError as err:
        raise BundleError(f"not an offline-ner bundle: {err}") from err
    if magic is None or magic.name != MAGIC_NAME or magic.size > 64:
        raise BundleError(f"not an offline-ner bundle: the first member must be {MAGIC_NAME!r}")
    data = reader.read_capped(magic, max_bytes=64)
    if data != MAGIC:
        raise BundleError(f"unsupported bundle format {data[:40]!r}; this verifier reads {MAGIC!r}")
    head = reader.next_member()
    if head is None or head.name != ENVELOPE_NAME:
        raise BundleError(f"the second member must be the signature envelope {ENVELOPE_NAME!r}")
    if head.size > limits.max_envelope_bytes:
        raise LimitExceededError(
            f"signature envelope declares {head.size} bytes; the limit is {limits.max_envelope_bytes}"
        )
    return reader.read_capped(head, max_bytes=limits.max_envelope_bytes), [magic, head]


def mtime_error(member: Member, created: int) -> BundleError | None:
    """A member whose tar mtime is not the manifest's ``created``: another byte form of the same bundle."""
    if member.mtime == created:
        return None
    return BundleError(
        f"member {member.name!r} has mtime {member.mtime}; every member's is the manifest's created ({created}): "
        "not the bundle's one byte form"
    )


def _manifest_summary(manifest: Manifest, digest: str) -> dict[str, Any]:
    return {
        "digest": digest,
        "kind": manifest.kind,
        "stream": manifest.stream,
        "sequence": manifest.sequence,
        "created": format_time(manifest.created),
        "expires": format_time(manifest.expires) if manifest.expires else None,
        "producer": manifest.producer,
        "provenance": manifest.provenance,
        "file_count": len(manifest.files),
        "total_bytes": manifest.total_bytes,
    }


class _Extractor:
    """Streams payload members into staging, one verdict per file; never follows or creates a link."""

    def __init__(
        self, manifest: Manifest, payload_dir: Path, report: _Report, limits: Limits, progress: Progress | None
    ) -> None:
        self.progress = progress
        self.expected = {entry.path: entry for entry in manifest.files}
        self.position = {entry.path: i for i, entry in enumerate(manifest.files)}
        self.last = ""  # the payload path extracted last: members must follow the manifest's (sorted) order
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, str] = {}  # collision key -> member path
        self.payload_dir = payload_dir
        self.report = report
        self.limits = limits
        self.created = int(manifest.created.timestamp())
        self.member_count = 0
        self.stopped = False  # a member could not be walked past: files after it are unchecked, not missing

    def _refuse(self, name: str, error: BundleError, size: int | None = None) -> None:
        self.report.errors.append(error)
        self.report.files.append({"path": name, "size": size, "verdict": type(error).__name__, "message": str(error)})

    def run(self, reader: TarReader) -> None:
        while True:
            try:
                member = reader.next_member()
            except TruncatedError as err:
                self.report.check("end of archive", err)
                return
            except BundleError as err:  # a member we cannot safely walk past: stop reading here
                self._refuse("<member header>", err)
                self.stopped = True
                return
            if member is None:
                return
            self.member_count += 1
            if self.member_count > len(self.expected) + 16:
                self.report.check(
                    "member count",
                    LimitExceededError(
                        f"the bundle holds more than {len(self.expected) + 16} members for {len(self.expected)} files"
                    ),
                )
                self.stopped = True
                return
            try:
                self._member(reader, member)
            except TruncatedError as err:
                self.report.check("end of archive", err)
                return

    def _member(self, reader: TarReader, member: Member) -> None:
        name, size = member.name, member.size
        if name in (MAGIC_NAME, ENVELOPE_NAME):
            return self._refuse(
                name, UnsafePathError(f"member {name!r} appears twice; a second copy could be read"), size
            )
        if not name.startswith(PAYLOAD_PREFIX):
            try:
                check_path(name)
            except UnsafePathError as err:
                return self._refuse(name, err, size)
            return self._refuse(
                name, ExtraFileError(f"member {name!r} is outside payload/ and not in the manifest"), size
            )
        path = name[len(PAYLOAD_PREFIX) :]
        try:
            check_path(path)
        except UnsafePathError as err:
            return self._refuse(name, err, size)
        key = collision_key(path)
        if key in self.seen:
            other = self.seen[key]
            what = "appears twice" if other == path else f"collides with {other!r} (case or Unicode form)"
            return self._refuse(path, UnsafePathError(f"member {path!r} {what}"), size)
        self.seen[key] = path
        entry = self.expected.get(path)
        if entry is None:
            return self._refuse(path, ExtraFileError(f"member {path!r} is not listed in the signed manifest"), size)
        if size > self.limits.max_file_bytes:
            return self._refuse(path, LimitExceededError(f"member {path!r} declares {size} bytes"), size)
        if self.last and self.position[path] < self.position[self.last]:
            # one byte form: the same files in another order are another bundle, which install.sh refuses too
            return self._file(entry, ExtraFileError(f"member {path!r} comes after {self.last!r}: not manifest order"))
        self.last = path
        error = mtime_error(member, self.created)
        if error is not None:
            return self._file(entry, error)
        self._extract(reader, entry, member)

    def _extract(self, reader: TarReader, entry: FileEntry, member: Member) -> None:
        size = member.size
        target = self.payload_dir / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL|O_NOFOLLOW: even if something put a link into staging, it is never followed or overwritten
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                digest = reader.copy(member, entry.size, self._sink(handle.write))
        except TruncatedError as err:
            target.unlink()
            self._file(entry, HashMismatchError(f"{entry.path!r} is cut short: {err}"))
            raise
        error = None
        if size != entry.size:
            error = HashMismatchError(f"{entry.path!r} holds {size} bytes; the manifest declares {entry.size}")
        elif digest.hexdigest() != entry.sha256:
            error = HashMismatchError(f"{entry.path!r} sha256 {digest.hexdigest()[:16]}... differs from the manifest")
        if error is not None:
            target.unlink()
        self._file(entry, error)

    def _sink(self, write: Callable[[bytes], object]) -> Callable[[bytes], object]:
        if self.progress is None:
            return write
        progress = self.progress

        def write_and_report(chunk: bytes) -> None:
            write(chunk)
            progress(len(chunk))

        return write_and_report

    def _file(self, entry: FileEntry, error: BundleError | None) -> None:
        self.verdicts[entry.path] = {
            "path": entry.path,
            "size": entry.size,
            "sha256": entry.sha256,
            "verdict": "ok" if error is None else type(error).__name__,
        }
        if error is not None:
            self.verdicts[entry.path]["message"] = str(error)
            self.report.errors.append(error)

    def finish(self) -> None:
        """Give every listed file a verdict: the ones never seen are missing (or unchecked after a hard stop)."""
        for path, entry in self.expected.items():
            if path in self.verdicts:
                continue
            if self.stopped:
                self.verdicts[path] = {"path": path, "size": entry.size, "sha256": entry.sha256, "verdict": "unchecked"}
            else:
                self._file(entry, MissingFileError(f"{path!r} is listed in the manifest but not in the bundle"))
        self.report.files[:0] = [self.verdicts[entry.path] for entry in self.expected.values()]


def _verify_stream(
    handle: BinaryIO,
    report: _Report,
    trust: TrustStore,
    now: datetime,
    limits: Limits,
    staging: Path,
    progress: Progress | None,
) -> tuple[Manifest, str, bytes]:
    reader = TarReader(handle)
    envelope_bytes, head = read_head(reader, limits)
    envelope = loads_envelope(envelope_bytes, max_bytes=limits.max_envelope_bytes)
    verdicts = check_signatures(trust, envelope)
    report.signatures = [{"keyid": v.keyid, "verdict": v.verdict, "roles": list(v.roles)} for v in verdicts]
    roles = met_roles(trust, verdicts)
    report.check("signatures", signature_error(verdicts, roles), f"threshold met for role(s) {', '.join(roles)}")
    if report.errors:
        raise report.fail()  # the manifest is not parsed unless a threshold of trusted keys vouches for it
    manifest = loads_manifest(envelope.payload)
    digest = manifest_digest(envelope.payload)
    report.manifest = _manifest_summary(manifest, digest)
    created = int(manifest.created.timestamp())
    report.check("head mtimes", next(filter(None, (mtime_error(member, created) for member in head)), None))
    granted = authorise(trust, roles, manifest.kind, [entry.path for entry in manifest.files])
    report.check("policy", policy_error(trust, roles, manifest.kind, granted))
    report.check(
        "expiry",
        ExpiredError(f"the bundle expired at {report.manifest['expires']}") if manifest.is_expired(now) else None,
    )
    report.check("rollback", rollback_error(trust, manifest, digest))
    check_limits(manifest, limits)
    free = shutil.disk_usage(staging).free
    if manifest.total_bytes > free:
        raise LimitExceededError(f"the payload needs {manifest.total_bytes} bytes; staging has {free} free")
    extractor = _Extractor(manifest, staging / "payload", report, limits, progress)
    extractor.run(reader)
    extractor.finish()
    for entry in report.files:
        entry["role"] = granted.get(entry["path"])
    return manifest, digest, envelope_bytes


def verify_bundle(
    path: Path,
    trust: TrustStore,
    *,
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    staging_root: Path | None = None,
    progress: Progress | None = None,
) -> VerifiedBundle:
    """Verify ``path`` fully and return its payload in a fresh private staging folder.

    Args:
        path: the bundle file.
        trust: trusted keys, roles and stream state (read only; :func:`import_bundle` records acceptance).
        now: the time expiry is judged at (default: the current UTC time).
        limits: caps on envelope size, file count and sizes.
        staging_root: where to create the staging folder (default: the system temp folder).
        progress: called with the number of payload bytes each time a chunk is verified and written.

    Returns:
        A :class:`VerifiedBundle`; use it as a context manager or call ``cleanup()``.

    Raises:
        BundleError and its subclasses (each with ``.report``), the most severe of all failed checks.
    """
    now = now or datetime.now(timezone.utc)
    report = _Report(bundle=str(path))
    if staging_root is not None:
        staging_root.mkdir(parents=True, exist_ok=True)
    root = staging_root or Path(tempfile.gettempdir())
    remove_dead_leftovers(root, STAGING_PREFIX)  # what a killed verification left: unverified payload
    lock, name = make_owned(root, STAGING_PREFIX, folder=True)  # mode 0700: private to us
    staging = Path(name)
    try:
        try:
            with open(path, "rb") as handle:
                manifest, digest, envelope_bytes = _verify_stream(handle, report, trust, now, limits, staging, progress)
        except OSError as err:
            raise report.fail(BundleError(f"cannot read bundle {path} or write staging: {err.strerror}")) from err
        except BundleError as err:
            if err.report is not None:
                raise
            raise report.fail(err) from err
        if report.errors:
            raise report.fail()
    except BaseException:
        _discard(staging, lock)
        raise
    return VerifiedBundle(
        path=Path(path),
        manifest=manifest,
        digest=digest,
        envelope=envelope_bytes,
        staging_dir=staging,
        report=report.freeze(),
        lock=lock,
    )
