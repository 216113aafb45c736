"""The CycloneDX SBOM of a runtime bundle: one component per wheel, with the wheel's own name, version and licence.

A security review at the air gap feeds the bundle's ``sbom.cdx.json`` to its scanner; it names exactly the wheels in
``requirements.lock`` (one component per wheel file, with the file's sha256 and a ``pkg:pypi`` package URL), so a
finding maps to a file the bundle carries. Name, version and licence come from each wheel's ``METADATA``
(``License-Expression``, else a one-line ``License``, else the ``License ::`` classifiers), never from a guess.

The document is built and serialised by the CycloneDX Python library (``cyclonedx-python-lib``, the ``sbom`` extra),
imported only when a runtime bundle is made or an SBOM is checked. It carries no timestamp and a serial number
derived from its wheels, so the same wheelhouse gives the same bytes (bundles are reproducible).

Example::

    data = sbom_json({"click-8.1.7-py3-none-any.whl": Path("wh/click-8.1.7-py3-none-any.whl")}, hashes)
    summarize_sbom(data)["components"][0]   # {"name": "click", "version": "8.1.7", "sha256": ..., "licenses": [...]}
"""

from __future__ import annotations

import json
import uuid
import zipfile
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from offline_ner.bundle._tar import Member, TarReader
from offline_ner.bundle.manifest import PAYLOAD_PREFIX
from offline_ner.bundle.runtime import parse_wheel_name
from offline_ner.errors import BundleError

SBOM_FILE = "sbom.cdx.json"  # payload path in a runtime bundle (CycloneDX's recommended *.cdx.json name)
SBOM_MEMBER = PAYLOAD_PREFIX + SBOM_FILE
SPEC_VERSION = "1.6"  # CycloneDX specification the SBOM is written in and validated against
MAX_SBOM_BYTES = 16 * 2**20  # inspect reads the SBOM member only up to this size (74 wheels are ~40 kB)
MAX_METADATA_BYTES = 4 * 2**20  # a wheel's METADATA (long descriptions included) stays far below this
MAX_LICENSE_NAME = 200  # a longer ``License`` field is the licence's full text, not its name
EXTRA = "sbom"  # the optional-dependency group of offline-ner that brings cyclonedx-python-lib


def _cyclonedx() -> Any:
    """The CycloneDX library, or one clear error naming the extra that installs it."""
    try:
        import cyclonedx.contrib.license.factories
        import cyclonedx.exception
        import cyclonedx.model.bom
        import cyclonedx.output
        import cyclonedx.schema
        import cyclonedx.validation.json
    except ImportError as err:
        raise BundleError(
            f"runtime bundles carry a CycloneDX SBOM, made by cyclonedx-python-lib, which is not installed: "
            f"pip install 'offline-ner[{EXTRA}]' ({err})"
        ) from err
    return cyclonedx


def read_wheel_metadata(wheel: Path) -> Message:
    """The ``*.dist-info/METADATA`` headers of ``wheel`` (PEP 427: exactly one dist-info folder at the top).

    Raises:
        BundleError: not a zip, no or several METADATA files, or one too large.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BundleError(f"{wheel.name} holds {len(names)} *.dist-info/METADATA files; a wheel has one")
            if archive.getinfo(names[0]).file_size > MAX_METADATA_BYTES:
                raise BundleError(f"{wheel.name}: METADATA is larger than {MAX_METADATA_BYTES} bytes")
            # policy.default: every header reads as text (compat32 gives a Header object for non-ASCII values)
            return BytesParser(policy=policy.default).parsebytes(archive.read(names[0]), headersonly=True)
    except (OSError, zipfile.BadZipFile) as err:
        raise BundleError(f"{wheel}: not a readable wheel ({err})") from err


def declared_licenses(metadata: Message) -> list[str]:
    """The licences a wheel declares: its SPDX ``License-Expression`` (PEP 639), else a one-line ``License`` field,
    else the last part of each ``License ::`` classifier; empty when it declares none."""
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return [expression]
    field = (metadata.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= MAX_LICENSE_NAME and field.upper() != "UNKNOWN":
        return [field]
    classifiers = [c.split("::")[-1].strip() for c in metadata.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return sorted({name for name in classifiers if name and name != "OSI Approved"})


def _check_identity(filename: str, metadata: Message) -> tuple[str, str]:
    """METADATA's name and version, which must be the ones the wheel's file name (and so the lock) states."""
    fields = parse_wheel_name(filename)
    name, version = (metadata.get("Name") or "").strip(), (metadata.get("Version") or "").strip()
    try:
        same = canonicalize_name(name) == canonicalize_name(fields["name"]) and Version(version) == Version(
            fields["version"]
        )
    except InvalidVersion:
        same = False
    if not same:
        raise BundleError(
            f"{filename}: its METADATA says {name or '(no name)'} {version or '(no version)'}, its file name "
            f"{fields['name']} {fields['version']}; rebuild the wheel"
        )
    return name, version


def sbom_json(wheels: dict[str, Path], hashes: dict[str, str]) -> bytes:
    """The CycloneDX JSON of ``wheels`` (file name -> path), each with its sha256 from ``hashes``; schema-checked.

    Raises:
        BundleError: a wheel is unreadable or its METADATA disagrees with its file name; cyclonedx-python-lib is
            not installed.
    """
    cdx = _cyclonedx()
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    licenses = cdx.contrib.license.factories.LicenseFactory()
    components = []
    for filename in sorted(wheels):
        metadata = read_wheel_metadata(wheels[filename])
        name, version = _check_identity(filename, metadata)
        purl = PackageURL(type="pypi", name=canonicalize_name(name), version=version,
                          qualifiers={"file_name": filename})
        components.append(Component(
            name=name, version=version, type=ComponentType.LIBRARY, bom_ref=filename, purl=purl,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=hashes[filename])],
            licenses=[licenses.make_from_string(value) for value in declared_licenses(metadata)],
        ))
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "offline-ner-sbom:" + ",".join(f"{f}={hashes[f]}" for f in sorted(wheels)))
    bom = cdx.model.bom.Bom(components=components, serial_number=serial)
    bom.metadata.timestamp = None  # reproducible: the bundle's signed manifest carries the creation time
    version = cdx.schema.SchemaVersion.from_version(SPEC_VERSION)
    text = cdx.output.make_outputter(bom, cdx.schema.OutputFormat.JSON, version).output_as_string(indent=2)
    data = (text + "\n").encode("utf-8")
    validate_sbom(data)  # a bundle never carries an SBOM a scanner would reject
    return data


def validate_sbom(data: bytes) -> None:
    """Check ``data`` against the CycloneDX JSON schema of :data:`SPEC_VERSION` (the library's strict validator).

    Raises:
        BundleError: not valid CycloneDX, or cyclonedx-python-lib (with its ``json-validation`` extra) is not
            installed.
    """
    cdx = _cyclonedx()
    version = cdx.schema.SchemaVersion.from_version(SPEC_VERSION)
    try:
        error = cdx.validation.json.JsonStrictValidator(version).validate_str(data.decode("utf-8"))
    except cdx.exception.MissingOptionalDependencyException as err:
        raise BundleError(f"validating an SBOM needs pip install 'offline-ner[{EXTRA}]' ({err})") from err
    if error is not None:
        raise BundleError(f"{SBOM_FILE} is not valid CycloneDX {SPEC_VERSION}: {error}")


def read_sbom_member(reader: TarReader, member: Member) -> dict[str, Any]:
    """:func:`summarize_sbom` of the bundle member ``member`` (read from ``reader``), or ``{"problem": ...}``.

    Raises:
        TruncatedError: the bundle ends inside the member.
    """
    if member.size > MAX_SBOM_BYTES:
        return {"file": SBOM_FILE, "problem": f"{member.size} bytes; inspect shows SBOMs up to {MAX_SBOM_BYTES}"}
    data = reader.read_capped(member, max_bytes=MAX_SBOM_BYTES)
    try:
        return summarize_sbom(data)
    except BundleError as err:
        return {"file": SBOM_FILE, "problem": str(err)}


def summarize_sbom(data: bytes) -> dict[str, Any]:
    """What ``bundle inspect`` shows of an SBOM: its format and each component's name, version, sha256, licences.

    Plain JSON reading (no CycloneDX library needed), so a closed host without the extra can still show it.

    Raises:
        BundleError: not a CycloneDX JSON document.
    """
    try:
        bom = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise BundleError(f"{SBOM_FILE} is not JSON: {err}") from err
    if not isinstance(bom, dict) or bom.get("bomFormat") != "CycloneDX" or not isinstance(bom.get("components"), list):
        raise BundleError(f"{SBOM_FILE} is not a CycloneDX document with components")
    components = []
    for item in bom["components"]:
        item = item if isinstance(item, dict) else {}
        sha256 = [h.get("content") for h in item.get("hashes", []) if isinstance(h, dict) and h.get("alg") == "SHA-256"]
        names = [lic.get("expression") or (lic.get("license") or {}).get("id") or (lic.get("license") or {}).get("name")
                 for lic in item.get("licenses", []) if isinstance(lic, dict)]
        components.append({"name": item.get("name"), "version": item.get("version"),
                           "sha256": sha256[0] if sha256 else None, "licenses": [n for n in names if n]})
    return {"file": SBOM_FILE, "format": f"CycloneDX {bom.get('specVersion')}", "components": components}
