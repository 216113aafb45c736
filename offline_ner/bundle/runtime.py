"""Runtime bundles: a wheelhouse, a hash-pinned lock, and ``install.sh`` for machines without offline-ner.

The connected side fills a wheelhouse for the target platform and Python with ``pip download``; this module turns
it into payload files: ``wheels/<file>.whl``, ``requirements.lock`` (``name==version --hash=sha256:...`` for every
wheel) and ``install.sh`` (shipped beside this module), which verifies the bundle with stock ``openssl`` and
``sha256sum`` and then runs ``pip install --no-index --require-hashes``. Pure apart from reading install.sh.

Example::

    python -m pip download --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
        -d wheelhouse offline-ner
    lock = lock_text({"click-8.1.7-py3-none-any.whl": "ab12..."})
"""

from __future__ import annotations

import importlib.resources
import re

from offline_ner.errors import BundleError

# PEP 427: {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
WHEEL_RE = re.compile(
    r"(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-(?P<build>\d[A-Za-z0-9_]*))?"
    r"-(?P<python>[A-Za-z0-9_.]+)-(?P<abi>[A-Za-z0-9_.]+)-(?P<platform>[A-Za-z0-9_.]+)\.whl"
)


def parse_wheel_name(filename: str) -> dict[str, str]:
    """The PEP 427 fields of a wheel file name.

    Raises:
        BundleError: not a wheel file name (runtime bundles carry built wheels only, never sdists).
    """
    match = WHEEL_RE.fullmatch(filename)
    if match is None:
        raise BundleError(
            f"{filename!r} is not a wheel; runtime bundles carry wheels only "
            "(build sdists with 'pip wheel' on the connected side)"
        )
    return match.groupdict()


def _project(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalisation


def lock_text(wheels: dict[str, str]) -> str:
    """A ``--require-hashes`` requirements file pinning every wheel (file name -> sha256).

    Raises:
        BundleError: a file is not a wheel, or one project appears in two versions (the lock would be ambiguous).
    """
    pins: dict[str, tuple[str, list[str]]] = {}
    for filename, digest in sorted(wheels.items()):
        fields = parse_wheel_name(filename)
        project = _project(fields["name"])
        version, hashes = pins.setdefault(project, (fields["version"], []))
        if version != fields["version"]:
            raise BundleError(f"the wheelhouse holds {project} {version} and {fields['version']}; keep one version")
        hashes.append(digest)
    lines = ["# hash-pinned by offline-ner: pip install --no-index --require-hashes -r requirements.lock"]
    for project, (version, hashes) in sorted(pins.items()):
        lines.append(f"{project}=={version} " + " ".join(f"--hash=sha256:{h}" for h in sorted(hashes)))
    return "\n".join(lines) + "\n"


def runtime_summary(wheels: dict[str, str]) -> dict[str, object]:
    """The manifest provenance of a runtime bundle: what it installs and for which interpreters and platforms."""
    fields = [parse_wheel_name(name) for name in sorted(wheels)]
    return {
        "wheels": len(fields),
        "projects": sorted(f"{_project(f['name'])}=={f['version']}" for f in fields),
        "python_tags": sorted({f["python"] for f in fields}),
        "platform_tags": sorted({f["platform"] for f in fields}),
        "lock": "requirements.lock",
        "installer": "install.sh",
    }


def install_script() -> bytes:
    """The bytes of ``install.sh`` as shipped with this package."""
    return (importlib.resources.files("offline_ner.bundle") / "install.sh").read_bytes()
