"""The connected side and the inference host install on macOS arm64 and Linux aarch64 (issue 29): pip resolves
offline-ner[connected] and offline-ner[predict] to wheels only for those platforms (``pip install --dry-run
--platform ... --only-binary=:all:``, metadata only, nothing installed). Needs an index that serves those wheels
(PyPI or a full mirror): without one, each case skips and says so. Slow (seconds per case, over the network); CI
runs it in its slow step.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from offline_ner.bundle.runtime import Target
from offline_ner.bundle.wheelhouse import SDIST_ONLY, wheel_requirements
from tests.install.test_closed_network_install import own_wheel

pytestmark = pytest.mark.slow
PYTHON = "%d.%d" % sys.version_info[:2]  # noqa: UP031
PLATFORMS = {
    "macos-arm64": ["macosx_14_0_arm64"],  # pip also takes older macOS wheels for it
    "linux-aarch64": Target(python=PYTHON, glibc="2.28", arch="aarch64").platform_tags(),
}
# what each profile must bring, and what none may
EXPECTED = {"predict": {"onnxruntime", "numpy", "tokenizers", "cryptography"}, "connected": {"openai", "tiktoken"}}
NEVER = {"torch", "transformers", "spacy", "matplotlib", "onnxruntime-gpu"}


def resolve(requirement: str, tags: list[str], report: Path, *pip: str) -> subprocess.CompletedProcess[str]:
    platforms = [arg for tag in tags for arg in ("--platform", tag)]
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
         str(report), "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON, *platforms, *pip,
         requirement],
        check=False, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """offline-ner's wheel, beside wheels of the pure-Python dependencies that publish only an sdist (seqeval), built
    here as `bundle runtime` builds them: one wheel fits every platform."""
    built = own_wheel(tmp_path_factory.mktemp("dist"))
    pins = [f"{r.name}{r.specifier}" for r in wheel_requirements(built) if canonicalize_name(r.name) in SDIST_ONLY]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(built.parent),
                    *sorted(set(pins))], check=True, capture_output=True, text=True, timeout=600)
    return built


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_profile_resolves_to_wheels_for_the_platform(wheel: Path, tmp_path: Path, platform: str, profile: str) -> None:
    tags = PLATFORMS[platform]
    probe = resolve("numpy", tags, tmp_path / "probe.json", "--no-deps")
    if probe.returncode != 0:
        pytest.skip(f"no reachable package index serves {platform} wheels: {probe.stderr.strip()[-300:]}")
    result = resolve(f"offline-ner[{profile}] @ {wheel.as_uri()}", tags, tmp_path / "report.json",
                     f"--find-links={wheel.parent}")
    assert result.returncode == 0, result.stderr[-4000:]
    installs = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["install"]
    names = {canonicalize_name(item["metadata"]["name"]) for item in installs}
    assert EXPECTED[profile] <= names and not names & NEVER, sorted(names)
    files = [item["download_info"]["url"].rsplit("/", 1)[-1] for item in installs]
    assert all(name.endswith(".whl") for name in files), files
