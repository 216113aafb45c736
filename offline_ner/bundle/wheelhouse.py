"""Connected side: fill a wheelhouse for one :class:`~offline_ner.bundle.runtime.Target` with pip.

Three pip runs, each an ordinary client call (the index, mirrors and find-links in pip's own configuration apply):

1. ``pip wheel --no-deps`` builds offline-ner's own wheel from its source folder (a built wheel is copied);
2. ``pip wheel --no-deps`` builds the dependencies that publish only an sdist (:data:`SDIST_ONLY`, pure Python),
   pinned as offline-ner's metadata pins them;
3. ``pip download --only-binary=:all:`` resolves everything else for the target: CPython version, the whole
   manylinux tag list down from the glibc floor, the extras of the target's profile, onnxruntime (``cpu``) or
   onnxruntime-gpu with its CUDA wheels (``cuda``), and, for profiles that train, torch's CPU build from the
   PyTorch CPU index (``cpu``) or its CUDA build from the default index (``cuda``).

Then ``target.json`` records the target, and ``collect_sources("runtime", ...)`` checks every wheel against it.

Example::

    build_wheelhouse(Target("3.11", "2.28"), Path("wh"), project=Path("."), torch_version="2.13.0",
                     torch_index=TORCH_CPU_INDEX)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from offline_ner.bundle.runtime import Target
from offline_ner.errors import BundleError

PROJECT = "offline-ner"
# torch's CPU-only builds (version suffix +cpu) are published only on this index, not on PyPI
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# dependencies that publish no wheel: pip builds them here (pure Python, so one wheel fits every target)
SDIST_ONLY = ("seqeval",)


def _pip(args: Sequence[str], log: Callable[[str], None]) -> None:
    command = [sys.executable, "-m", "pip", *args]
    log("$ " + " ".join(command))
    # pip's output goes line by line to ``log`` (stderr): progress on a long download, and stdout stays free
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            log(line.rstrip("\n"))
    if pip.returncode != 0:
        raise BundleError(f"pip {args[0]} failed (exit {pip.returncode}); its output is above")


def _own_wheel(out: Path, project: Path, source_args: list[str], log: Callable[[str], None]) -> Path:
    before = set(out.glob("*.whl"))
    if project.is_file() and project.suffix == ".whl":
        shutil.copy2(project, out / project.name)
        return out / project.name
    _pip(["wheel", "--no-deps", "--wheel-dir", str(out), *source_args, str(project)], log)
    built = [path for path in set(out.glob("*.whl")) - before if canonicalize_name(path.name.split("-")[0]) == PROJECT]
    if len(built) != 1:
        raise BundleError(f"building {project} gave no {PROJECT} wheel; is it the offline-ner source folder?")
    return built[0]


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(archive.read(name).decode("utf-8"))


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The ``Requires-Dist`` requirements in a wheel's metadata (markers and extras kept)."""
    return [Requirement(text) for text in _wheel_metadata(wheel).get_all("Requires-Dist") or []]


def wheel_extras(wheel: Path) -> set[str]:
    """The extras a wheel declares (``Provides-Extra``), normalised as pip compares them."""
    return {canonicalize_name(extra) for extra in _wheel_metadata(wheel).get_all("Provides-Extra") or []}


def build_wheelhouse(
    target: Target,
    out: Path,
    *,
    project: Path,
    torch_version: str | None,
    torch_index: str | None,
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    extras: Sequence[str] = (),
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Path:
    """Fill the empty folder ``out`` with every wheel offline-ner needs on ``target``, plus ``target.json``.

    Args:
        project: offline-ner's source folder, or its built wheel.
        torch_version: the public torch version (``2.13.0``); ``+cpu`` is added for a ``cpu`` target. Only profiles
            that train install torch; for them it is required.
        torch_index: an extra index for torch (:data:`TORCH_CPU_INDEX`), or None for pip's configured sources.
        find_links, no_index: passed to pip (a local wheel mirror instead of, or beside, the index).
        extras: offline-ner extras to include besides the target's own (:attr:`Target.extras`: its profile's and
            its device's runtime), e.g. ``ray`` and ``spark`` for a cluster inside the closed network.

    Returns:
        ``out``.

    Raises:
        BundleError: ``out`` is not empty, offline-ner has no such extra, or a pip step failed.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty: one wheelhouse holds one target (its lock pins every wheel in it)")
    out.mkdir(parents=True, exist_ok=True)
    source_args = [*(f"--find-links={path}" for path in find_links), *(["--no-index"] if no_index else [])]
    own = _own_wheel(out, Path(project), source_args, log)
    # pip only warns about an extra the project lacks: a typo would ship a bundle without, say, the ray engine
    wanted = sorted({*extras, *target.extras})
    unknown = sorted({canonicalize_name(extra) for extra in wanted} - wheel_extras(own))
    if unknown:
        raise BundleError(f"{own.name} has no extra {unknown[0]!r}; its extras: {', '.join(sorted(wheel_extras(own)))}")
    # the pins this target installs (its extras' too), without their markers: pip ignores `; extra == "predict"`
    pins: dict[str, str] = {canonicalize_name(r.name): f"{r.name}{r.specifier}" for r in wheel_requirements(own)
            if r.marker is None or any(r.marker.evaluate({"extra": extra}) for extra in wanted)}
    sdist_only = [pins[name] for name in SDIST_ONLY if name in pins]
    if sdist_only:
        _pip(["wheel", "--no-deps", "--wheel-dir", str(out), *source_args, *sdist_only], log)
    # "==2.13.0" alone also matches "2.13.0+cpu", which pip prefers wherever its sources offer both (PEP 440)
    pinned = []  # the predict profile installs no torch at all
    if target.needs_torch:
        if not torch_version:
            raise BundleError(f"the {target.profile} profile installs torch: give its version (e.g. 2.13.0)")
        pinned = [f"torch=={torch_version}+cpu" if target.device == "cpu"
                  else f"torch=={torch_version},!={torch_version}+cpu"]
    platforms = [arg for tag in target.platform_tags() for arg in ("--platform", tag)]
    _pip(
        [
            "download", "--only-binary=:all:", "--dest", str(out), f"--find-links={out}", *source_args,
            *([f"--extra-index-url={torch_index}"] if torch_index and pinned else []),
            "--implementation", "cp", "--python-version", target.python, *platforms,
            *pinned, f"{own}[{','.join(wanted)}]",
        ],
        log,
    )
    target.write(out)
    return out
