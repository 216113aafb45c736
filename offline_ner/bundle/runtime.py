"""Runtime bundles: a wheelhouse, a hash-pinned lock, and ``install.sh`` for machines without offline-ner.

The connected side fills a wheelhouse for one :class:`Target` (Python version, glibc floor, CPU architecture,
cpu|cuda, and the profile: what the host does; ``offline_ner.bundle.wheelhouse`` runs pip) and records the target in ``target.json``; this module turns
it into payload files: ``wheels/<file>.whl``, ``requirements.lock`` (``name==version --hash=sha256:...`` for every
wheel) and ``install.sh`` (shipped beside this module), which verifies the bundle with stock ``openssl`` and
``sha256sum``, checks the host against the target, and then runs ``pip install --no-index --require-hashes``.
Pure apart from reading files.

Example::

    target = Target(python="3.11", glibc="2.28")
    target.platform_tags()[:2]     # ['manylinux_2_28_x86_64', 'manylinux_2_27_x86_64']
    lock = lock_text({"click-8.1.7-py3-none-any.whl": "ab12..."})
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from offline_ner.errors import BundleError

TARGET_FILE = "target.json"  # written into the wheelhouse by 'bundle runtime'; its content goes into the manifest
DEVICES = ("cpu", "cuda")
# what a closed host does -> offline-ner's extras for it, besides the inference runtime the device picks
# (RUNTIME_EXTRA); docs/dependencies.md says why each host gets what
PROFILE_EXTRAS: dict[str, tuple[str, ...]] = {"predict": (), "train": ("train",), "all": ("train", "connected")}
PROFILES = tuple(PROFILE_EXTRAS)
# the extra with the ONNX Runtime wheel for each device: never both (both provide the onnxruntime module)
RUNTIME_EXTRA = {"cpu": "predict", "cuda": "gpu"}
# PEP 600 manylinux_2_X tags reach down to glibc 2.5; the legacy names alias three of them (PEP 513, 571, 599)
OLDEST_GLIBC_MINOR = 5
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
LEGACY_ARCHS = {"manylinux1": ("x86_64", "i686"), "manylinux2010": ("x86_64", "i686")}
VERSION_RE = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)")


def _major_minor(value: str, what: str) -> tuple[int, int]:
    match = VERSION_RE.fullmatch(value)
    if match is None:
        raise BundleError(f"{what} must look like 3.11 or 2.28 (major.minor), not {value!r}")
    return int(match["major"]), int(match["minor"])


@dataclass(frozen=True)
class Target:
    """The closed host a runtime bundle is built for; ``install.sh`` refuses any other host before pip runs.

    ``glibc`` is a floor: the bundle installs on hosts with this glibc or newer, because it holds only wheels whose
    manylinux tag needs at most this version.
    """

    python: str  # "3.11": wheels are picked for this CPython, and install.sh requires exactly it
    glibc: str  # "2.28": the oldest glibc among the closed hosts
    arch: str = "x86_64"  # uname -m of the closed hosts
    device: str = "cpu"  # cpu: onnxruntime and torch's CPU build; cuda: onnxruntime-gpu, CUDA wheels, CUDA torch
    profile: str = "all"  # what the host does (PROFILE_EXTRAS): predict installs no torch at all

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise BundleError(f"the runtime profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        _major_minor(self.python, "the target Python version")
        if _major_minor(self.glibc, "the target glibc version")[0] != 2:
            raise BundleError(f"the target glibc version must be 2.x, not {self.glibc!r}")
        if self.device not in DEVICES:
            raise BundleError(f"the target device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if not re.fullmatch(r"[a-z0-9_]+", self.arch):
            raise BundleError(f"the target architecture must look like x86_64 or aarch64, not {self.arch!r}")

    @property
    def extras(self) -> tuple[str, ...]:
        """offline-ner's extras this target installs: the profile's, plus the device's inference runtime."""
        return (*PROFILE_EXTRAS[self.profile], RUNTIME_EXTRA[self.device])

    @property
    def needs_torch(self) -> bool:
        return "train" in PROFILE_EXTRAS[self.profile]

    def platform_tags(self) -> list[str]:
        """Every platform tag a wheel may carry to run on the target, newest first.

        pip given ``--platform manylinux_2_28_x86_64`` alone does not accept older manylinux wheels, so the whole
        list goes to ``pip download``.
        """
        tags = []
        for minor in range(_major_minor(self.glibc, "glibc")[1], OLDEST_GLIBC_MINOR - 1, -1):
            tags.append(f"manylinux_2_{minor}_{self.arch}")
            legacy = LEGACY_MANYLINUX.get(minor)
            if legacy and self.arch in LEGACY_ARCHS.get(legacy, (self.arch,)):
                tags.append(f"{legacy}_{self.arch}")
        return tags

    def supported_tags(self) -> set[Tag]:
        """The wheel tags pip on the target accepts: CPython's own, abi3 and ``py3-none-any`` style tags."""
        version = _major_minor(self.python, "python")
        platforms = self.platform_tags()
        return {*cpython_tags(version, platforms=platforms), *compatible_tags(version, f"cp{version[0]}{version[1]}",
                                                                              platforms)}

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``provenance.target``: the fields plus the platform tags."""
        return {**asdict(self), "platform_tags": self.platform_tags()}

    @classmethod
    def read(cls, wheelhouse: Path) -> Target:
        """The target recorded in ``wheelhouse/target.json``.

        Raises:
            BundleError: no target file, or an invalid one.
        """
        path = wheelhouse / TARGET_FILE
        if not path.is_file():
            raise BundleError(
                f"{wheelhouse} has no {TARGET_FILE}: build the wheelhouse with 'offline-ner bundle runtime', which "
                "records the target Python, glibc and device that install.sh checks"
            )
        try:
            fields = json.loads(path.read_text(encoding="utf-8"))
            # a wheelhouse from before profiles holds everything
            return cls(**{key: fields[key] for key in ("python", "glibc", "arch", "device")},
                       profile=fields.get("profile", "all"))
        except (ValueError, KeyError, TypeError) as err:
            raise BundleError(f"{path}: not a valid target ({err})") from err

    def write(self, wheelhouse: Path) -> Path:
        path = wheelhouse / TARGET_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    def check_wheel(self, filename: str) -> None:
        """Refuse a wheel that pip on the target would not install (wrong Python, newer glibc, other CPU).

        Raises:
            BundleError: the wheel's tags do not fit the target.
        """
        try:
            tags = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename as err:
            raise BundleError(f"{filename!r} is not a wheel file name: {err}") from err
        if not tags & self.supported_tags():
            raise BundleError(
                f"{filename} does not fit the target (CPython {self.python}, glibc >= {self.glibc}, {self.arch}); "
                f"rebuild the wheelhouse for this target with 'offline-ner bundle runtime'"
            )

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


def runtime_summary(wheels: dict[str, str], target: Target) -> dict[str, object]:
    """The manifest provenance of a runtime bundle: what it installs, for which target, interpreters, platforms."""
    fields = [parse_wheel_name(name) for name in sorted(wheels)]
    return {
        "target": target.to_json(),
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
