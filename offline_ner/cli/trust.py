"""``offline-ner trust``: the closed side's trust store (keys, roles, thresholds, stream state).

Thin over :class:`offline_ner.bundle.TrustStore`; every change is loaded, checked and written atomically under
the store's lock (:meth:`TrustStore.locked`), so it cannot undo a concurrent import's ratchet or another change.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from offline_ner.bundle.manifest import KINDS, format_time
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli.keys import read_passphrase
from offline_ner.cli.options import signing_keys_option, store_option, trust_store_option


def _describe(store: Any) -> dict[str, Any]:
    return {"trust_store": str(store.path), **store.to_dict()}


@click.group(epilog=EXIT_CODES_EPILOG)
def trust() -> None:
    """Manage which keys the closed side trusts, in which roles, for which bundles."""


@trust.command("add", epilog=EXIT_CODES_EPILOG)
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--role", "roles", multiple=True, required=True, help="Role the key holds (repeatable).")
@click.option("--threshold", type=int, help="Define/replace the role: distinct keys that must sign.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Define/replace the role: bundle kinds it may sign (repeatable).",
)
@click.option(
    "--path", "paths", multiple=True, help="Define/replace the role: payload path glob (repeatable; default '*')."
)
@click.option("--name", default="", help="A label for the key (shown by 'trust list').")
@trust_store_option
@json_option
@handles_errors
def add(
    public_key: Path,
    roles: tuple[str, ...],
    threshold: int | None,
    kinds: tuple[str, ...],
    paths: tuple[str, ...],
    name: str,
    trust_store: Path,
    as_json: bool,
) -> None:
    """Trust PUBLIC_KEY (an Ed25519 PEM) in ROLE; define the role on first use.

    \b
    Example:
      offline-ner trust add annotator.pub.pem --role annotator --kind annotations \\
          --path records.jsonl --path provenance.json --path qa.json --threshold 1
    """
    from offline_ner.bundle import TrustStore, load_public_key

    if (threshold is not None or kinds or paths) and len(roles) != 1:
        raise click.UsageError("--threshold/--kind/--path define one role: give exactly one --role")
    public = load_public_key(public_key)
    with TrustStore.locked(trust_store.expanduser(), missing_ok=True) as store:
        if threshold is not None or kinds or paths:
            old = store.roles.get(roles[0])
            store.set_role(
                roles[0],
                threshold=threshold if threshold is not None else (old.threshold if old else 1),
                kinds=kinds or (old.kinds if old else ()),
                paths=paths or (old.paths if old else ("*",)),
            )
        key = store.add_key(public, roles=list(roles), name=name or public_key.stem)
        store.save()
    emit({"keyid": key.keyid, **_describe(store)}, as_json, human=f"trusted {key.keyid} as {', '.join(key.roles)}")


@trust.command("remove", epilog=EXIT_CODES_EPILOG)
@click.argument("keyid")
@trust_store_option
@json_option
@handles_errors
def remove(keyid: str, trust_store: Path, as_json: bool) -> None:
    """Stop trusting the key KEYID (full id or a unique prefix of 8+ hex digits).

    \b
    Example:
      offline-ner trust remove 47cdcc4714a2cfbd
    """
    from offline_ner.bundle import TrustStore

    with TrustStore.locked(trust_store.expanduser()) as store:
        removed = store.remove_key(keyid)
        store.save()
    emit({"removed": removed.keyid, **_describe(store)}, as_json, human=f"removed {removed.keyid}")


@trust.command("list", epilog=EXIT_CODES_EPILOG)
@trust_store_option
@json_option
@handles_errors
def list_(trust_store: Path, as_json: bool) -> None:
    """Show trusted keys, roles (threshold, kinds, paths) and the last accepted sequence per stream.

    \b
    Example:
      offline-ner trust list --json
    """
    from offline_ner.bundle import TrustStore

    store = TrustStore.load(trust_store.expanduser())
    lines = [f"trust store {store.path}", "roles:"]
    for name, role in sorted(store.roles.items()):
        lines.append(
            f"  {name}: threshold {role.threshold}, kinds {', '.join(role.kinds)}, paths {', '.join(role.paths)}"
        )
    lines.append("keys:")
    for key in sorted(store.keys.values(), key=lambda k: k.keyid):
        revoked = f"  REVOKED {format_time(key.revoked)}" if key.revoked is not None else ""
        lines.append(f"  {key.keyid}  {', '.join(key.roles)}  {key.name}{revoked}")
    lines.append("streams:")
    for stream, state in sorted(store.streams.items()):
        lines.append(f"  {stream}: sequence {state.sequence} ({state.digest[:16]})")
    emit(_describe(store), as_json, human="\n".join(lines))


@trust.command("revoke", epilog=EXIT_CODES_EPILOG)
@click.argument("keyid")
@click.option(
    "--date",
    "when",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="When the key stopped being trustworthy, UTC (default: now); recorded for the audit.",
)
@trust_store_option
@json_option
@handles_errors
def revoke(keyid: str, when: datetime | None, trust_store: Path, as_json: bool) -> None:
    """Revoke the key KEYID: every bundle it alone signed is refused from now on, whatever its date.

    The key stays listed (marked revoked) so refusals name it and 'trust signed' shows what it signed.

    \b
    Example:
      offline-ner trust revoke 47cdcc4714a2cfbd --date 2026-03-01
    """
    from offline_ner.bundle import TrustStore

    moment = when.replace(tzinfo=timezone.utc) if when else datetime.now(timezone.utc).replace(microsecond=0)
    with TrustStore.locked(trust_store.expanduser()) as store:
        key = store.revoke_key(keyid, moment)
        store.save()
    emit({"revoked": key.keyid, **_describe(store)}, as_json, human=f"revoked {key.keyid}")


@trust.command("rotation", epilog=EXIT_CODES_EPILOG)
@click.argument("role")
@click.option(
    "--new-key",
    "new_keys",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (PEM) that takes over ROLE (repeatable); its file stem is its name.",
)
@click.option("--threshold", type=click.IntRange(min=1), default=1, show_default=True, help="ROLE's new threshold.")
@signing_keys_option("Private key of a current holder of ROLE that signs the record (repeatable: up to its threshold).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Record file.")
@json_option
@handles_errors
def rotation(
    role: str, new_keys: tuple[Path, ...], threshold: int, key_paths: tuple[Path, ...], out: Path, as_json: bool
) -> None:
    """Write a key-rotation record handing ROLE to the --new-key keys, signed by ROLE's current keys.

    Carry it to the closed side with the new public keys and apply it there with 'trust rotate'.

    \b
    Example:
      offline-ner trust rotation annotator --new-key carol.pub.pem --key keys/alice.key -o rotate-annotator.json
    """
    from offline_ner._fs import atomic_write_bytes
    from offline_ner.bundle import load_private_key, load_public_key
    from offline_ner.bundle.rotation import create_rotation

    signers = [load_private_key(path, read_passphrase(f"Passphrase for {path}")) for path in key_paths]
    keys = [(load_public_key(path), path.name.removesuffix(".pem").removesuffix(".pub")) for path in new_keys]
    atomic_write_bytes(out, create_rotation(role, keys, threshold=threshold, signers=signers))
    emit({"record": str(out), "role": role, "keys": len(keys)}, as_json, human=f"wrote {out}")


@trust.command("rotate", epilog=EXIT_CODES_EPILOG)
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_store_option
@json_option
@handles_errors
def rotate(record: Path, trust_store: Path, as_json: bool) -> None:
    """Apply the key-rotation RECORD: checked against the role's current keys and threshold, it revokes the
    keys it does not list and trusts the ones it does. A record applies once.

    \b
    Example:
      offline-ner trust rotate rotate-annotator.json
    """
    from offline_ner.bundle import TrustStore
    from offline_ner.bundle.rotation import apply_rotation

    with TrustStore.locked(trust_store.expanduser()) as store:
        applied = apply_rotation(store, record.read_bytes())
        store.save()
    emit(
        {"role": applied.role, **_describe(store)},
        as_json,
        human=f"rotated {applied.role} to {len(applied.keys)} key(s), threshold {applied.threshold}",
    )


@trust.command("signed", epilog=EXIT_CODES_EPILOG)
@click.option("--key", "keyid", help="Only this key (full id or a unique prefix of 8+ hex digits).")
@store_option
@trust_store_option
@json_option
@handles_errors
def signed(keyid: str | None, store: Path, trust_store: Path, as_json: bool) -> None:
    """List which imported content each trusted key (revoked ones too) signed: what to review after a revocation.

    \b
    Example:
      offline-ner trust signed --key 47cdcc4714a2cfbd --store /srv/offline-ner/store
    """
    from offline_ner.bundle import TrustStore
    from offline_ner.bundle.audit import signed_imports

    trusted = TrustStore.load(trust_store.expanduser())
    found = signed_imports(trusted, store.expanduser())
    everyone = sorted(trusted.keys.values(), key=lambda k: k.keyid)
    chosen = [trusted.keys[trusted.match_key(keyid)]] if keyid else everyone
    report: list[dict[str, Any]] = []
    lines: list[str] = []
    for key in chosen:
        revoked = format_time(key.revoked) if key.revoked else None
        imports = found[key.keyid]
        report.append({"keyid": key.keyid, "name": key.name, "revoked": revoked, "signed": [asdict(i) for i in imports]})
        state = f" (revoked {revoked})" if revoked else ""
        lines.append(f"{key.keyid[:16]} {key.name}{state}: {len(imports)} imported bundle(s)")
        lines += [f"  {i.stream}@{i.sequence} {i.kind} {i.digest[:16]}" for i in imports]
    emit({"keys": report}, as_json, human="\n".join(lines))
