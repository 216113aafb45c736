"""Build tiny pure-Python wheels for runtime-bundle tests (no network, no build backend, deterministic bytes)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(out_dir: Path, name: str = "tinypkg", version: str = "1.0", requires: tuple[str, ...] = (),
                extras: dict[str, tuple[str, ...]] | None = None, headers: tuple[str, ...] = ()) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` whose module ``<name>`` has ``VALUE = "<name> <version>"``;
    ``extras`` maps an extra's name to the requirements it adds; ``headers`` are more METADATA lines (licences)."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {req}\n" for req in requires
    ) + "".join(f"{line}\n" for line in headers)
    for extra, extra_requires in (extras or {}).items():
        metadata += f"Provides-Extra: {extra}\n" + "".join(
            f'Requires-Dist: {req}; extra == "{extra}"\n' for req in extra_requires
        )
    files = {
        f"{name}/__init__.py": f'VALUE = "{name} {version}"\n'.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files.items():
            archive.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path
