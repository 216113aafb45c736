"""The closed side's trust store: which keys it trusts, in which roles, what each role may sign, and the last
bundle it accepted per stream (the rollback ratchet).

The decisions are pure functions over an in-memory :class:`TrustStore` and an envelope or manifest; the only I/O
is :meth:`TrustStore.load`, :meth:`TrustStore.save` (atomic) and :meth:`TrustStore.locked`, which holds the store's
lock file from before the load until after the save, so a change (``trust add``, ``bundle import``'s ratchet) is
one load-check-save step that no other process can interleave with. A role has a threshold (distinct trusted keys
that must sign), the bundle kinds it may sign, and payload path globs (``fnmatch``, where ``*`` also matches
``/``). A bundle is accepted when every payload path is covered by a role that allows its kind and whose
threshold is met. Invalid or unknown-key signatures beside a met threshold are reported, not fatal (as in TUF).

Example::

    with TrustStore.locked(Path("trust.json")) as trust:   # to change it: load, check, save as one step
        ...
    trust = TrustStore.load(Path("trust.json"))             # to read it
    verdicts = check_signatures(trust, envelope)
    error = signature_error(verdicts, met_roles(trust, verdicts))
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import fnmatch
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from offline_ner._fs import atomic_write_bytes
from offline_ner.bundle.envelope import Envelope, pae
from offline_ner.bundle.manifest import KINDS, MAX_SEQUENCE, STREAM_RE, Manifest, format_time, parse_time
from offline_ner.bundle.signing import key_id, raw_public_key, verify_signature
from offline_ner.errors import (
    BundleError,
    PolicyError,
    RevokedKeyError,
    RollbackError,
    SignatureError,
    ThresholdError,
    TrustStoreError,
    UnknownKeyError,
)

TRUST_STORE_VERSION = 1
# a store that revokes a key is written as version 2: an older offline-ner refuses it rather than trust the key again
REVOCATION_VERSION = 2
ROLE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Role:
    """What keys holding this role may sign together."""

    threshold: int
    kinds: tuple[str, ...]
    paths: tuple[str, ...] = ("*",)

    def allows(self, kind: str, path: str) -> bool:
        return kind in self.kinds and any(fnmatch.fnmatchcase(path, glob) for glob in self.paths)


@dataclass(frozen=True)
class TrustedKey:
    keyid: str
    public_key: Ed25519PublicKey
    roles: tuple[str, ...]
    name: str = ""
    revoked: datetime | None = None  # from then on it counts toward no threshold, and its bundles are refused


@dataclass(frozen=True)
class StreamState:
    """The last bundle accepted for a stream: a later one must have a higher sequence."""

    sequence: int
    digest: str


@dataclass(frozen=True)
class SignatureVerdict:
    keyid: str
    verdict: str  # valid | invalid | unknown-key | duplicate | revoked
    roles: tuple[str, ...] = ()


@dataclass
class TrustStore:
    """Trusted keys, roles and stream state; ``path`` is where :meth:`save` writes."""

    path: Path | None = None
    keys: dict[str, TrustedKey] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    streams: dict[str, StreamState] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> TrustStore:
        """Read a trust store file (``missing_ok``: an absent file is an empty store, for ``trust add``).

        Raises:
            TrustStoreError: the file is absent (unless ``missing_ok``), unreadable or inconsistent.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            if missing_ok:
                return cls(path=path)
            raise TrustStoreError(f"no trust store at {path}; create one with 'offline-ner trust add'") from err
        except OSError as err:
            raise TrustStoreError(f"cannot read trust store {path}: {err.strerror}") from err
        try:
            return cls.from_dict(json.loads(data), path=path)
        except TrustStoreError as err:
            raise TrustStoreError(f"trust store {path} is corrupt: {err}") from err
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as err:
            raise TrustStoreError(f"trust store {path} is corrupt: {err!r}") from err
        except RecursionError as err:
            raise TrustStoreError(f"trust store {path} is corrupt: JSON nested too deeply") from err

    @classmethod
    @contextlib.contextmanager
    def locked(cls, path: Path, *, missing_ok: bool = False) -> Iterator[TrustStore]:
        """Load the store under an exclusive lock held until the block ends; save inside the block.

        Two changes that load, check and save without it interleave: one checks the rollback ratchet against
        stale state, the later save undoes the earlier one (a ratchet moved back, a stream lost). The lock is the
        file's, not the name's: symlinks are resolved first, the lock file ``.<name>.lock`` sits beside the real
        file and the yielded store saves to the real file, so a symlink and its target share one lock. A file with
        a second real name (a hard link, a bind mount) is refused, since a save replaces one name and the other
        would keep the old ratchet.

        Raises:
            TrustStoreError: as :meth:`load`, the lock file cannot be opened, or the file has another name.
        """
        real = Path(os.path.realpath(path))
        if missing_ok:
            real.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = open(real.parent / f".{real.name}.lock", "a")  # noqa: SIM115 (closed below, after unlocking)
        except OSError as err:
            if not real.parent.is_dir():
                raise TrustStoreError(f"no trust store at {path}; create one with 'offline-ner trust add'") from err
            raise TrustStoreError(f"cannot open the lock file of trust store {path}: {err.strerror}") from err
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            _refuse_other_names(real)
            yield cls.load(real, missing_ok=missing_ok)

    @classmethod
    def from_dict(cls, raw: object, *, path: Path | None = None) -> TrustStore:
        """Build a store from its JSON form, checking every object's shape (TrustStoreError, never AttributeError)."""
        top = _object(raw, "the trust store")
        if top.get("version") not in (TRUST_STORE_VERSION, REVOCATION_VERSION):
            raise TrustStoreError(
                f"trust store version {top.get('version')!r} is not {TRUST_STORE_VERSION} or {REVOCATION_VERSION}"
            )
        store = cls(path=path)
        for name, role in _object(top["roles"], "'roles'").items():
            role = _object(role, f"role {name!r}")
            kinds, paths = _list(role["kinds"], f"role {name!r} kinds"), _list(role["paths"], f"role {name!r} paths")
            store.set_role(name, threshold=role["threshold"], kinds=kinds, paths=paths)
        for keyid, entry in _object(top["keys"], "'keys'").items():
            entry = _object(entry, f"key {keyid!r}")
            public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"], validate=True))
            roles = _list(entry["roles"], f"key {keyid!r} roles")
            added = store.add_key(public_key, roles=roles, name=str(entry.get("name", "")))
            if added.keyid != keyid:
                raise TrustStoreError(f"trust store lists key {keyid} but its public key has id {added.keyid}")
            if entry.get("revoked") is not None:
                try:
                    store.revoke_key(keyid, parse_time(entry["revoked"], "revoked"))
                except BundleError as err:
                    raise TrustStoreError(f"key {keyid}: {err}") from err
        for stream, state in _object(top["streams"], "'streams'").items():
            state = _object(state, f"stream {stream!r}")
            sequence, digest = state["sequence"], state["digest"]
            if not isinstance(sequence, int) or isinstance(sequence, bool) or not 1 <= sequence <= MAX_SEQUENCE:
                raise TrustStoreError(f"stream {stream!r} sequence {sequence!r} must be an integer from 1 to "
                                      f"{MAX_SEQUENCE}, as in a bundle manifest")
            if not isinstance(digest, str):
                raise TrustStoreError(f"stream {stream!r} digest must be a string, not {type(digest).__name__}")
            store.streams[stream] = StreamState(sequence=sequence, digest=digest)
        return store

    def to_dict(self) -> dict[str, Any]:
        revoked = any(k.revoked is not None for k in self.keys.values())
        return {
            "version": REVOCATION_VERSION if revoked else TRUST_STORE_VERSION,
            "roles": {
                name: {"threshold": r.threshold, "kinds": list(r.kinds), "paths": list(r.paths)}
                for name, r in sorted(self.roles.items())
            },
            "keys": {
                k.keyid: {
                    "name": k.name,
                    "public_key": base64.b64encode(raw_public_key(k.public_key)).decode(),
                    "roles": list(k.roles),
                    **({"revoked": format_time(k.revoked)} if k.revoked is not None else {}),
                }
                for k in sorted(self.keys.values(), key=lambda k: k.keyid)
            },
            "streams": {s: {"sequence": st.sequence, "digest": st.digest} for s, st in sorted(self.streams.items())},
        }

    def save(self) -> None:
        """Write the store atomically (a crash leaves the old or the new file, never half of one)."""
        if self.path is None:
            raise RuntimeError("this trust store has no path to save to")
        atomic_write_bytes(self.path, json.dumps(self.to_dict(), indent=2, sort_keys=True).encode() + b"\n")

    def set_role(self, name: str, *, threshold: int, kinds: list[str] | tuple[str, ...], paths: Any = ("*",)) -> Role:
        """Define or replace a role.

        Raises:
            TrustStoreError: a bad name, threshold below 1, an unknown kind, or no path globs.
        """
        if not isinstance(name, str) or not ROLE_RE.fullmatch(name):
            raise TrustStoreError(f"role name {name!r} must match {ROLE_RE.pattern}")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise TrustStoreError(f"role {name!r} threshold must be an integer >= 1, not {threshold!r}")
        unknown = [kind for kind in kinds if kind not in KINDS]
        if not kinds or unknown:
            raise TrustStoreError(f"role {name!r} kinds must be some of {', '.join(KINDS)}; got {list(kinds)}")
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise TrustStoreError(f"role {name!r} needs at least one non-empty payload path glob")
        role = Role(threshold=threshold, kinds=tuple(sorted(set(kinds))), paths=tuple(paths))
        self.roles[name] = role
        return role

    def add_key(
        self, public_key: Ed25519PublicKey, *, roles: list[str] | tuple[str, ...], name: str = ""
    ) -> TrustedKey:
        """Trust ``public_key`` in ``roles`` (replacing its roles if it is already trusted).

        Raises:
            TrustStoreError: no roles, or a role that is not defined.
        """
        undefined = [role for role in roles if role not in self.roles]
        if not roles or undefined:
            raise TrustStoreError(
                f"key needs defined roles; undefined: {undefined or 'none given'} "
                "(define a role with --threshold/--kind/--path)"
            )
        keyid = key_id(public_key)
        if keyid in self.keys and self.keys[keyid].revoked is not None:
            raise TrustStoreError(f"key {keyid} was revoked; a revoked key is never trusted again")
        key = TrustedKey(keyid=keyid, public_key=public_key, roles=tuple(sorted(set(roles))), name=name)
        self.keys[key.keyid] = key
        return key

    def revoke_key(self, keyid: str, when: datetime) -> TrustedKey:
        """Revoke a key (id or unique 8+ digit prefix) as of ``when``: it stays listed, so its bundles are refused
        as revoked (35) rather than unknown, and 'trust signed' can still name what it signed; it counts toward
        no threshold. Bundles it signed are refused whatever their ``created``: a stolen key can backdate one.

        Raises:
            TrustStoreError: no key or more than one key matches.
        """
        key = self.keys[self.match_key(keyid)]
        if key.revoked is None or when < key.revoked:
            key = replace(key, revoked=when)
            self.keys[key.keyid] = key
        return key

    def remove_key(self, keyid: str) -> TrustedKey:
        """Stop trusting a key (given by id or a unique id prefix of at least 8 hex digits).

        Raises:
            TrustStoreError: no key or more than one key matches.
        """
        return self.keys.pop(self.match_key(keyid))

    def match_key(self, keyid: str) -> str:
        """The one key id that is ``keyid`` or starts with it (8+ hex digits); TrustStoreError otherwise."""
        matches = [k for k in self.keys if k == keyid or (len(keyid) >= 8 and k.startswith(keyid))]
        if len(matches) != 1:
            raise TrustStoreError(f"{len(matches)} trusted keys match {keyid!r}; give the full key id")
        return matches[0]

    def record_accepted(self, manifest: Manifest, digest: str) -> bool:
        """Advance the stream's ratchet to this bundle; False if it already stood there (a replayed import)."""
        state = StreamState(sequence=manifest.sequence, digest=digest)
        if self.streams.get(manifest.stream) == state:
            return False
        self.streams[manifest.stream] = state
        return True


def _refuse_other_names(real: Path) -> None:
    """Refuse a trust store that is one file under two real paths: saving renames a new file over this name
    only, so the other name (a hard link, or a bind mount, which also refuses the rename) keeps the old ratchet."""
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return
    except OSError as err:
        raise TrustStoreError(f"cannot read trust store {real}: {err.strerror}") from err
    if info.st_nlink > 1:
        raise TrustStoreError(
            f"trust store {real} has {info.st_nlink} hard links: a save replaces this name only, so the others "
            "would keep an old rollback ratchet; remove the other links (a symlink may point here)"
        )
    mounts = _mount_points_of(info)
    if mounts:
        raise TrustStoreError(
            f"trust store {real} is bind-mounted at {', '.join(mounts)}: a save cannot replace a mount point, and "
            "the other path would keep an old rollback ratchet; mount its folder instead of the file"
        )


def _mount_points_of(info: os.stat_result) -> list[str]:
    """Mount points (``/proc/self/mountinfo``, where there is one) that show this very file: bind mounts of it."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return []
    device = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    found = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5 or fields[2] != device or fields[3] == "/":  # a file's bind mount has its path as root
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])  # mountinfo escapes space as \040
        try:
            other = os.stat(point)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            found.append(point)
    return found


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TrustStoreError(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TrustStoreError(f"{what} must be a JSON list, not {type(value).__name__}")
    return value


def check_signatures(trust: TrustStore, envelope: Envelope) -> list[SignatureVerdict]:
    """Verify each signature against the trusted key its key id names; a key counts once however often it signs."""
    message = pae(envelope.payload_type, envelope.payload)
    verdicts = []
    counted: set[str] = set()
    for signature in envelope.signatures:
        key = trust.keys.get(signature.keyid)
        if key is None:
            verdicts.append(SignatureVerdict(signature.keyid, "unknown-key"))
        elif not verify_signature(key.public_key, signature, message):
            verdicts.append(SignatureVerdict(signature.keyid, "invalid", key.roles))
        elif key.revoked is not None:
            verdicts.append(SignatureVerdict(signature.keyid, "revoked", key.roles))
        elif key.keyid in counted:
            # one key signing twice is still one signer: it must not meet a threshold of two alone
            verdicts.append(SignatureVerdict(signature.keyid, "duplicate", key.roles))
        else:
            counted.add(key.keyid)
            verdicts.append(SignatureVerdict(signature.keyid, "valid", key.roles))
    return verdicts


def met_roles(trust: TrustStore, verdicts: list[SignatureVerdict]) -> list[str]:
    """Roles whose threshold is met by distinct valid trusted signatures."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        if verdict.verdict == "valid":
            for role in verdict.roles:
                counts[role] = counts.get(role, 0) + 1
    return sorted(
        role for role, count in counts.items() if role in trust.roles and count >= trust.roles[role].threshold
    )


def signature_error(verdicts: list[SignatureVerdict], roles: list[str]) -> BundleError | None:
    """Why the signatures do not authenticate the manifest, or None when some role's threshold is met."""
    if roles:
        return None
    found = {v.verdict for v in verdicts}
    if not verdicts:
        return SignatureError("the bundle carries no signature")
    if "invalid" in found:
        bad = [v.keyid[:16] for v in verdicts if v.verdict == "invalid"]
        return SignatureError(f"signature by trusted key(s) {', '.join(bad)} does not verify: the manifest was altered")
    if "revoked" in found and "valid" not in found:
        ids = ", ".join(v.keyid[:16] for v in verdicts if v.verdict == "revoked")
        return RevokedKeyError(f"signed by no trusted key but revoked key(s) {ids} (see 'trust list')")
    if found == {"unknown-key"}:
        ids = ", ".join(v.keyid[:16] for v in verdicts)
        return UnknownKeyError(f"signed only by key(s) this trust store does not know: {ids} (see 'trust add')")
    valid = sum(v.verdict == "valid" for v in verdicts)
    return ThresholdError(f"{valid} distinct trusted key(s) signed; no role's threshold is met")


def authorise(trust: TrustStore, roles: list[str], kind: str, paths: list[str]) -> dict[str, str | None]:
    """For each payload path, the first met role that may sign this kind and path (None: not authorised)."""
    return {path: next((r for r in roles if trust.roles[r].allows(kind, path)), None) for path in paths}


def policy_error(trust: TrustStore, roles: list[str], kind: str, granted: dict[str, str | None]) -> PolicyError | None:
    if not any(kind in trust.roles[r].kinds for r in roles):
        return PolicyError(f"role(s) {', '.join(roles)} may not sign {kind!r} bundles")
    refused = [path for path, role in granted.items() if role is None]
    if refused:
        return PolicyError(
            f"role(s) {', '.join(roles)} may not sign payload path(s) {', '.join(map(repr, refused[:5]))}"
        )
    return None


def rollback_error(trust: TrustStore, manifest: Manifest, digest: str) -> RollbackError | None:
    """A bundle must be newer than the stream's last accepted one; the very same bundle again is a harmless replay."""
    if not STREAM_RE.fullmatch(manifest.stream):
        raise ValueError(f"unchecked stream name {manifest.stream!r}")
    state = trust.streams.get(manifest.stream)
    if state is None or manifest.sequence > state.sequence:
        return None
    if manifest.sequence == state.sequence and digest == state.digest:
        return None
    if manifest.sequence == state.sequence:
        return RollbackError(
            f"stream {manifest.stream!r} already accepted a different bundle with sequence {state.sequence}"
        )
    return RollbackError(
        f"stream {manifest.stream!r} sequence {manifest.sequence} is older than the accepted {state.sequence}: "
        "an old bundle replayed"
    )
