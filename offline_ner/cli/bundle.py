"""``offline-ner bundle``: create (connected side), inspect, verify, import and resolve (closed side).

Each command calls one library entry point of :mod:`offline_ner.bundle`. Verification failures exit with the
code of the most severe failed check (docs/bundle-format.md); ``--json`` prints the full report either way.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from offline_ner.bundle.manifest import KINDS
from offline_ner.bundle.model_signature import ModelSigning
from offline_ner.bundle.runtime import DEVICES, PROFILES, Target
from offline_ner.bundle.wheelhouse import TORCH_CPU_INDEX
from offline_ner.cli._common import BUNDLE_EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.cli.keys import read_passphrase
from offline_ner.cli.options import signing_keys_option, store_option, trust_store_option
from offline_ner.contracts import VerificationReport

BUNDLE_EPILOG = BUNDLE_EXIT_CODES_EPILOG

def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _progressbar(path: Path, label: str) -> Any:
    """A progress bar on stderr over the bundle's bytes (payload bytes advance it)."""
    return click.progressbar(length=path.stat().st_size, label=f"{label} {path.name}", file=sys.stderr)


def _human_report(report: VerificationReport) -> str:
    manifest = report.manifest
    lines = [f"{report.status}: {report.bundle}"]
    if manifest:
        lines.append(
            f"  {manifest['kind']} {manifest['stream']}@{manifest['sequence']}  created {manifest['created']}"
            f"  expires {manifest['expires'] or 'never'}  digest {manifest['digest'][:16]}"
        )
    for sig in report.signatures:
        lines.append(f"  signature {sig['keyid'][:16]}  {sig['verdict']}  {', '.join(sig.get('roles', []))}")
    for entry in report.files:
        lines.append(f"  file {entry['path']}  {entry.get('size')} bytes  {entry['verdict']}")
    for check in report.failed_checks():
        lines.append(f"  check {check['check']}: {check['message']}")
    return "\n".join(lines)


@click.group(epilog=BUNDLE_EPILOG)
def bundle() -> None:
    """Signed bundles: the only way data, models and wheels enter the closed network."""


def _model_signing(kind: str, sign_key: Path | None, upstream_key: Path | None) -> ModelSigning:
    """The OpenSSF Model Signing options of ``bundle create``: model bundles only; a passphrase only if encrypted."""
    from offline_ner.bundle.model_signature import load_ec_private_key, load_ec_public_key

    if kind != "model" and (sign_key or upstream_key):
        raise click.UsageError("--model-signing-key and --upstream-public-key apply to --kind model only")
    private = None
    if sign_key is not None:
        encrypted = b"ENCRYPTED" in sign_key.read_bytes()
        private = load_ec_private_key(sign_key, read_passphrase(f"Passphrase for {sign_key}") if encrypted else None)
    return ModelSigning(sign_with=private, upstream_key=load_ec_public_key(upstream_key) if upstream_key else None)


@bundle.command("create", epilog=BUNDLE_EPILOG)
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--kind", required=True, type=click.Choice(KINDS))
@click.option("--stream", required=True, help="Stream name, e.g. conll-llm or bert-base-cased.")
@click.option("--sequence", required=True, type=int, help="Must exceed the stream's last imported sequence.")
@signing_keys_option()
@click.option(
    "--model-signing-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="model: also sign the folder for OpenSSF Model Signing with this ECDSA P-256 PEM key (adds model.sig).",
)
@click.option(
    "--upstream-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="model: the folder's model.sig (model_signing, key mode) must verify with this ECDSA P-256 PEM key.",
)
@click.option("--expires-in-days", type=float, help="Refuse the bundle after this many days.")
@click.option(
    "--created",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"]),
    help="Creation time, UTC (default: SOURCE_DATE_EPOCH or now); fixes the output bytes.",
)
@click.option(
    "-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Bundle file ('-': stdout)."
)
@json_option
@handles_errors
def create(
    source: Path,
    kind: str,
    stream: str,
    sequence: int,
    key_paths: tuple[Path, ...],
    model_signing_key: Path | None,
    upstream_public_key: Path | None,
    expires_in_days: float | None,
    created: datetime | None,
    out: Path,
    as_json: bool,
) -> None:
    """Bundle SOURCE and sign it. Passphrases come from OFFLINE_NER_KEY_PASSPHRASE or a prompt.

    SOURCE is an annotation export folder or a labelled file (annotations: JSONL, CoNLL, a Label Studio export
    or a spaCy DocBin, detected from the content), a Hugging Face model folder with
    safetensors weights or a packaged base model's name such as minilm-l6-uncased (model), or a wheelhouse from
    'bundle runtime --wheelhouse DIR' (runtime; 'bundle runtime' also signs it).

    \b
    Example:
      offline-ner bundle create --kind annotations --stream conll-llm --sequence 3 \\
          --key keys/annotator.key export/ -o conll-llm-3.bundle
      offline-ner bundle create --kind model --stream minilm-l6-uncased --sequence 1 \\
          --key keys/release.key minilm-l6-uncased -o minilm-l6-uncased-1.bundle
      offline-ner bundle create --kind model --stream ner --sequence 2 --key keys/release.key \\
          --model-signing-key keys/model-signing.key model/ -o ner-2.bundle    # docs/model-signing.md
    """
    from offline_ner.bundle import create_bundle, load_private_key
    from offline_ner.bundle.create import default_created
    from offline_ner.train.base_model import PACKAGED_MODELS, resolve_base_model

    if kind == "model" and not source.exists() and str(source) in PACKAGED_MODELS:
        source = resolve_base_model(str(source))  # the packaged folder; its package's other dependencies unneeded

    keys = [load_private_key(path, read_passphrase(f"Passphrase for {path}")) for path in key_paths]
    signing = _model_signing(kind, model_signing_key, upstream_public_key)
    created_at = _utc(created) or default_created()
    expires = created_at + timedelta(days=expires_in_days) if expires_in_days is not None else None
    click.echo(f"bundling {source} as {kind} {stream}@{sequence} ...", err=True)
    path = create_bundle(
        source, kind=kind, stream=stream, sequence=sequence, keys=keys, out=out, created=created_at, expires=expires,
        model_signing=signing,
    )
    to_stdout = str(path) == "-"
    size = None if to_stdout else path.stat().st_size
    emit({"bundle": str(path), "bytes": size}, as_json, human=f"wrote {path}", err=to_stdout)


def _this_host_torch() -> str | None:
    """The public version of the torch installed here (what the connected side tested with), if any."""
    import importlib.metadata

    try:
        return importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return None


@bundle.command("runtime", epilog=BUNDLE_EPILOG)
@click.option("--python", "python_version", required=True,
              help="Target CPython version, e.g. 3.11 (python3 --version); install.sh refuses any other.")
@click.option("--glibc", required=True,
              help="Oldest glibc of the closed hosts, e.g. 2.28 (ldd --version); only wheels that run there are taken.")
@click.option("--arch", default=Target.arch, show_default=True, help="Target CPU (uname -m).")
@click.option("--device", type=click.Choice(DEVICES), default=Target.device, show_default=True,
              help="cpu: onnxruntime (and torch's CPU build), no CUDA wheels. cuda: onnxruntime-gpu with CUDA/cuDNN "
              "wheels (and PyPI's CUDA torch).")
@click.option("--profile", type=click.Choice(PROFILES), default=Target.profile, show_default=True,
              help="What the host does: predict (ONNX inference only, no torch), train (+ training and export), "
              "all (+ the connected side's LLM client).")
@click.option("--torch-version", default=_this_host_torch, show_default="the one installed here",
              help="Public torch version to ship, e.g. 2.13.0 (profiles train and all).")
@click.option("--torch-index", default=TORCH_CPU_INDEX, show_default=True,
              help="Extra index for torch's +cpu build ('none': only pip's configured index and find-links, "
              "e.g. a mirror that holds it). Unused for --device cuda.")
@click.option("--project", type=click.Path(exists=True, path_type=Path), default=Path("."), show_default=True,
              help="offline-ner's source folder or built wheel.")
@click.option("--extra", "extras", multiple=True, help="Also install this extra of offline-ner (repeatable).")
@click.option("--find-links", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also take wheels from this folder (repeatable; passed to pip).")
@click.option("--no-index", is_flag=True, help="Use only --find-links folders, no index (passed to pip).")
@click.option("--wheelhouse", type=click.Path(file_okay=False, path_type=Path),
              help="Build the wheelhouse here and keep it (must be empty); default: a temporary folder.")
@click.option("--stream", help="Stream name (default runtime-py<XY>-<profile>-<device>, with -<arch> unless x86_64).")
@click.option("--sequence", required=True, type=int, help="Must exceed the stream's last imported sequence.")
@signing_keys_option()
@click.option("--expires-in-days", type=float, help="Refuse the bundle after this many days.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Bundle file.")
@json_option
@handles_errors
def runtime(python_version: str, glibc: str, arch: str, device: str, profile: str, torch_version: str | None,
            torch_index: str, project: Path, extras: tuple[str, ...], find_links: tuple[Path, ...], no_index: bool,
            wheelhouse: Path | None, stream: str | None, sequence: int, key_paths: tuple[Path, ...],
            expires_in_days: float | None, out: Path, as_json: bool) -> None:
    """Connected side: download every wheel offline-ner needs on a target host and sign them as a runtime bundle.

    The target (Python, glibc floor, CPU, cpu|cuda, profile) goes into the signed manifest; install.sh on the
    closed host checks it before pip runs. pip's own configuration (index, mirrors, find-links) applies here.

    \b
    Example (an inference-only host; --profile train or all adds training, export and the LLM client):
      offline-ner bundle runtime --python 3.11 --glibc 2.28 --device cpu --profile predict \\
          --sequence 1 --key keys/release.key -o runtime-py311-predict-cpu-1.bundle
    """
    import tempfile
    import time

    from offline_ner.bundle import create_bundle, load_private_key
    from offline_ner.bundle.create import default_created
    from offline_ner.bundle.wheelhouse import build_wheelhouse
    from offline_ner.errors import BundleError

    try:
        target = Target(python=python_version, glibc=glibc, arch=arch, device=device, profile=profile)
    except BundleError as err:  # a mistyped target is a usage error (2), not a malformed bundle
        raise click.UsageError(str(err)) from err
    if target.needs_torch and not torch_version:
        raise click.UsageError(f"torch is not installed here: give --torch-version (e.g. 2.13.0) for --profile {profile}")
    arch_suffix = "" if arch == Target.arch else f"-{arch}"
    stream = stream or f"runtime-py{python_version.replace('.', '')}-{profile}-{device}{arch_suffix}"
    keys = [load_private_key(path, read_passphrase(f"Passphrase for {path}")) for path in key_paths]
    created_at = default_created()
    expires = created_at + timedelta(days=expires_in_days) if expires_in_days is not None else None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="offline-ner-wheelhouse-") as scratch:
        folder = wheelhouse or Path(scratch) / "wheelhouse"
        click.echo(f"building the wheelhouse for {target} in {folder} ...", err=True)
        build_wheelhouse(target, folder, project=project, torch_version=torch_version,
                         torch_index=None if device == "cuda" or torch_index == "none" else torch_index,
                         find_links=find_links, no_index=no_index, extras=extras,
                         log=lambda line: click.echo(line, err=True))
        click.echo(f"bundling {folder} as runtime {stream}@{sequence} ...", err=True)
        path = create_bundle(folder, kind="runtime", stream=stream, sequence=sequence, keys=keys, out=out,
                             created=created_at, expires=expires)
    size, seconds = path.stat().st_size, time.monotonic() - started
    emit({"bundle": str(path), "bytes": size, "seconds": round(seconds, 1), "stream": stream,
          "target": target.to_json()}, as_json,
         human=f"wrote {path}: {size / 1e6:.0f} MB in {seconds:.0f} s for {stream}")


@bundle.command("verify", epilog=BUNDLE_EPILOG)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_store_option
@json_option
@handles_errors
def verify(path: Path, trust_store: Path, as_json: bool) -> None:
    """Verify PATH completely (signatures, policy, expiry, rollback, every file) without importing it.

    \b
    Example:
      offline-ner bundle verify conll-llm-3.bundle --json
    """
    from offline_ner.bundle import TrustStore, verify_bundle

    trust = TrustStore.load(trust_store.expanduser())
    with _progressbar(path, "verifying") as bar:
        verified = verify_bundle(path, trust, progress=bar.update)
    with verified:
        emit(verified.report.to_json(), as_json, human=_human_report(verified.report))


def _sbom_lines(sbom: dict[str, Any] | None) -> list[str]:
    """A runtime bundle's SBOM as ``bundle inspect`` prints it: one line per component."""
    if not sbom:
        return []
    if "problem" in sbom:
        return [f"  sbom {sbom['file']}: {sbom['problem']}"]
    lines = [f"  sbom {sbom['file']}  {sbom['format']}  {len(sbom['components'])} components"]
    for item in sbom["components"]:
        licenses = ", ".join(item["licenses"]) or "no licence declared"
        lines.append(f"    {item['name']} {item['version']}  sha256 {str(item['sha256'])[:16]}  {licenses}")
    return lines


@bundle.command("inspect", epilog=BUNDLE_EPILOG)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust-store",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OFFLINE_NER_TRUST_STORE",
    help="Also verify against this trust store; without one everything shown is UNVERIFIED.",
)
@json_option
@handles_errors
def inspect(path: Path, trust_store: Path | None, as_json: bool) -> None:
    """Show what PATH claims: manifest, signatures, members, a runtime bundle's SBOM. UNVERIFIED unless verified.

    \b
    Example:
      offline-ner bundle inspect model.bundle
    """
    from offline_ner.bundle import TrustStore, inspect_bundle

    store = TrustStore.load(trust_store.expanduser()) if trust_store and trust_store.expanduser().exists() else None
    info = inspect_bundle(path, store)
    manifest = info.get("manifest") or {}
    lines = [f"{info['status']}: {path}"]
    if info["status"] != "VERIFIED":
        lines.append("  (everything below is what the bundle claims; nothing has been verified)")
    lines += [
        f"  {key}: {manifest[key]}"
        for key in ("kind", "stream", "sequence", "created", "expires", "producer", "provenance")
        if key in manifest
    ]
    lines += [f"  signature {sig['keyid']}" for sig in info.get("signatures", [])]
    lines += [f"  member {m['name']}  {m['size']} bytes" for m in info.get("members", [])]
    lines += _sbom_lines(info.get("sbom"))
    lines += [f"  problem: {problem}" for problem in info["problems"]]
    if "verification_error" in info:
        lines.append(f"  verification failed: {info['verification_error']['message']}")
    emit(info, as_json, human="\n".join(lines))


@bundle.command("import", epilog=BUNDLE_EPILOG)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
@trust_store_option
@json_option
@handles_errors
def import_(path: Path, store: Path, trust_store: Path, as_json: bool) -> None:
    """Verify PATH, move its payload into the content store, record the stream's sequence. Idempotent.

    \b
    Example:
      offline-ner bundle import conll-llm-3.bundle --store /srv/offline-ner/store
    """
    from offline_ner.bundle import TrustStore, import_bundle

    # import_bundle reads the trust store under its lock: loading it here first would check a stale ratchet
    with _progressbar(path, "verifying and importing") as bar:
        result = import_bundle(path, TrustStore(path=trust_store.expanduser()), store.expanduser(), progress=bar.update)
    state = "already imported" if result.already_imported else "imported"
    emit(
        {
            "bundle": str(path),
            "digest": result.digest,
            "kind": result.kind,
            "stream": result.stream,
            "sequence": result.sequence,
            "payload_dir": str(result.payload_dir),
            "already_imported": result.already_imported,
            "reference": f"bundle:{result.stream}@{result.sequence}/",
        },
        as_json,
        human=f"{state}: {result.stream}@{result.sequence} -> {result.payload_dir}",
    )


@bundle.command("resolve", epilog=BUNDLE_EPILOG)
@click.argument("reference")
@store_option
@json_option
@handles_errors
def resolve(reference: str, store: Path, as_json: bool) -> None:
    """Print the path of REFERENCE (bundle:<stream>[@<sequence>]/<path>) in the content store.

    \b
    Example:
      offline-ner bundle resolve bundle:conll-llm/records.jsonl
    """
    from offline_ner.bundle import resolve_reference

    path = resolve_reference(reference, store.expanduser())
    emit({"reference": reference, "path": str(path)}, as_json, human=str(path))
