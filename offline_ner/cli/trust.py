"""``offline-ner trust``: the closed side's trust store (keys, roles, thresholds, stream state).

Thin over :class:`offline_ner.bundle.TrustStore`; every change is loaded, checked and written atomically under
the store's lock (:meth:`TrustStore.locked`), so it cannot undo a concurrent import's ratchet or another change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from offline_ner.bundle.manifest import KINDS
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli.options import trust_store_option


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
        lines.append(f"  {key.keyid}  {', '.join(key.roles)}  {key.name}")
    lines.append("streams:")
    for stream, state in sorted(store.streams.items()):
        lines.append(f"  {stream}: sequence {state.sequence} ({state.digest[:16]})")
    emit(_describe(store), as_json, human="\n".join(lines))
