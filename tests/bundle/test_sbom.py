"""A runtime bundle carries a CycloneDX SBOM of exactly its wheels: it validates against the CycloneDX 1.6 schema,
names every wheel of ``requirements.lock`` with the same sha256 and the licence the wheel declares, and
``bundle inspect`` shows it."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packageurl import PackageURL

from offline_ner.bundle import TrustStore, create_bundle, verify_bundle
from offline_ner.bundle.sbom import SBOM_FILE, declared_licenses, read_wheel_metadata, validate_sbom
from offline_ner.cli.main import cli
from offline_ner.errors import BundleError
from tests.bundle.simulator import CREATED, NOW
from tests.bundle.test_runtime import this_host
from tests.bundle.test_runtime_command import build_runtime, run
from tests.bundle.wheels import build_wheel

LOCK_LINE = re.compile(r"(?P<project>\S+)==(?P<version>\S+) (?P<hashes>.*)")


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """Three wheels: one with a PEP 639 licence expression, one with licence classifiers, one declaring none."""
    folder = tmp_path / "wheelhouse"
    build_wheel(folder, "tinypkg", "1.0", requires=("Tiny_Dep",), headers=("License-Expression: Apache-2.0 OR MIT",))
    build_wheel(folder, "Tiny_Dep", "2.0", headers=("Classifier: License :: OSI Approved :: BSD License",))
    build_wheel(folder, "nolicence", "0.3")
    this_host().write(folder)
    return folder


def _bundle(wheelhouse: Path, key: Ed25519PrivateKey, out: Path) -> Path:
    return create_bundle(wheelhouse, kind="runtime", stream="runtime-py311", sequence=1, keys=[key], out=out,
                         created=CREATED)


def _release_trust(tmp_path: Path, key: Ed25519PrivateKey) -> TrustStore:
    trust = TrustStore(path=tmp_path / "trust.json")
    trust.set_role("release", threshold=1, kinds=["runtime"])
    trust.add_key(key.public_key(), roles=["release"], name="release")
    trust.save()
    return trust


def _locked(lock: str) -> set[tuple[str, str, str]]:
    """(project, version, sha256) for every wheel the lock pins."""
    pinned = set()
    for line in lock.splitlines():
        if (match := LOCK_LINE.fullmatch(line)) is not None:
            for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", match["hashes"]):
                pinned.add((match["project"], match["version"], digest))
    return pinned


def test_the_sbom_validates_against_cyclonedx_and_lists_every_locked_wheel_with_its_sha256(
    wheelhouse: Path, tmp_path: Path, alice: Ed25519PrivateKey
) -> None:
    bundle = _bundle(wheelhouse, alice, tmp_path / "runtime.bundle")
    with verify_bundle(bundle, _release_trust(tmp_path, alice), now=NOW) as verified:
        data = (verified.payload_dir / SBOM_FILE).read_bytes()
        lock = (verified.payload_dir / "requirements.lock").read_text()
        assert verified.manifest.provenance["sbom"] == SBOM_FILE
    validate_sbom(data)  # the library's strict JSON-schema validator for CycloneDX 1.6
    sbom = json.loads(data)
    assert sbom["specVersion"] == "1.6"
    listed = {(PackageURL.from_string(c["purl"]).name, c["version"], c["hashes"][0]["content"])
              for c in sbom["components"]}
    assert listed == _locked(lock) and len(listed) == 3
    licences = {c["name"]: c.get("licenses", []) for c in sbom["components"]}
    assert licences == {
        "tinypkg": [{"expression": "Apache-2.0 OR MIT"}],
        "Tiny_Dep": [{"license": {"name": "BSD License"}}],
        "nolicence": [],
    }


def test_the_same_wheelhouse_gives_the_same_sbom_bytes(wheelhouse: Path, tmp_path: Path,
                                                       alice: Ed25519PrivateKey) -> None:
    # no timestamp and a serial number derived from the wheels: runtime bundles stay reproducible
    first = _bundle(wheelhouse, alice, tmp_path / "a.bundle").read_bytes()
    assert _bundle(wheelhouse, alice, tmp_path / "b.bundle").read_bytes() == first


def test_a_wheel_whose_metadata_disagrees_with_its_file_name_is_refused(
    wheelhouse: Path, tmp_path: Path, alice: Ed25519PrivateKey
) -> None:
    wheel = wheelhouse / "nolicence-0.3-py3-none-any.whl"
    wheel.rename(wheelhouse / "nolicence-0.4-py3-none-any.whl")  # the lock would pin 0.4; the wheel installs 0.3
    with pytest.raises(BundleError, match=r"METADATA says nolicence 0.3, its file name nolicence 0.4"):
        _bundle(wheelhouse, alice, tmp_path / "runtime.bundle")
    assert not (tmp_path / "runtime.bundle").exists()


def test_the_schema_check_refuses_an_sbom_that_breaks_cyclonedx(wheelhouse: Path, tmp_path: Path,
                                                                alice: Ed25519PrivateKey) -> None:
    with verify_bundle(_bundle(wheelhouse, alice, tmp_path / "r.bundle"), _release_trust(tmp_path, alice),
                       now=NOW) as verified:
        sbom = json.loads((verified.payload_dir / SBOM_FILE).read_bytes())
    sbom["components"][0]["hashes"][0]["alg"] = "SHA-257"
    with pytest.raises(BundleError, match="not valid CycloneDX 1.6"):
        validate_sbom(json.dumps(sbom).encode())


def test_bundle_inspect_shows_each_component_with_its_licence(
    wheelhouse: Path, tmp_path: Path, alice: Ed25519PrivateKey, env: dict[str, str]
) -> None:
    bundle = _bundle(wheelhouse, alice, tmp_path / "runtime.bundle")
    _release_trust(tmp_path, alice)
    result = CliRunner(env=env).invoke(cli, ["bundle", "inspect", str(bundle), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["status"] == "VERIFIED"
    assert info["sbom"]["format"] == "CycloneDX 1.6"
    assert [(c["name"], c["licenses"]) for c in info["sbom"]["components"]] == [
        ("Tiny_Dep", ["BSD License"]), ("nolicence", []), ("tinypkg", ["Apache-2.0 OR MIT"])
    ]
    human = CliRunner(env=env).invoke(cli, ["bundle", "inspect", str(bundle)], catch_exceptions=False).output
    assert f"sbom {SBOM_FILE}  CycloneDX 1.6  3 components" in human
    assert re.search(r"tinypkg 1.0  sha256 [0-9a-f]{16}  Apache-2.0 OR MIT", human)


def test_bundle_runtime_writes_an_sbom_of_exactly_the_wheels_pip_took(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "PIP_CONFIG_FILE": os.devnull}  # only the local folder below, never this machine's index
    mirror = tmp_path / "mirror"
    build_wheel(mirror, "offline_ner", "0.1.0", requires=("tinydep",), headers=("License-Expression: Apache-2.0",),
                extras={"predict": (), "train": (), "connected": ()})  # the default profile's extras, adding nothing
    build_wheel(mirror, "tinydep", "2.0", headers=("License: MIT",))
    build_wheel(mirror, "unrelated", "1.0")  # in the mirror, not needed: must be in neither the lock nor the SBOM
    build_wheel(mirror, "torch", "9.9+cpu")
    assert run(env, "keys", "generate", "--out", str(tmp_path / "keys"), "--name", "release").exit_code == 0
    assert run(env, "trust", "add", str(tmp_path / "keys" / "release.pub.pem"), "--role", "release",
               "--kind", "runtime", "--threshold", "1").exit_code == 0
    result = build_runtime(env, tmp_path, mirror, tmp_path / "keys" / "release.key", "--python", "3.11", "--glibc",
                           "2.28")
    assert result.exit_code == 0, result.output
    with verify_bundle(tmp_path / "runtime.bundle", TrustStore.load(tmp_path / "trust.json")) as verified:
        data = (verified.payload_dir / SBOM_FILE).read_bytes()
        wheels = sorted(p.name for p in (verified.payload_dir / "wheels").iterdir())
        lock = (verified.payload_dir / "requirements.lock").read_text()
    validate_sbom(data)
    components = json.loads(data)["components"]
    assert sorted(PackageURL.from_string(c["purl"]).qualifiers["file_name"] for c in components) == wheels
    assert {(PackageURL.from_string(c["purl"]).name, c["version"], c["hashes"][0]["content"])
            for c in components} == _locked(lock)
    assert [c.get("licenses") for c in components] == [[{"license": {"id": "Apache-2.0"}}],
                                                       [{"license": {"id": "MIT"}}], None]


def test_without_the_cyclonedx_library_a_runtime_bundle_names_the_extra_to_install(
    wheelhouse: Path, tmp_path: Path, alice: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cyclonedx", None)  # import fails as if not installed
    with pytest.raises(BundleError, match=r"pip install 'offline-ner\[sbom\]'"):
        _bundle(wheelhouse, alice, tmp_path / "runtime.bundle")
    assert not (tmp_path / "runtime.bundle").exists()


def test_a_licence_with_non_ascii_text_is_read_as_text(tmp_path: Path) -> None:
    # email's compat32 policy hands such a header back as a Header object, which has no str methods
    wheel = build_wheel(tmp_path, "tinypkg", "1.0", headers=("License: Lizenz für alle",))
    assert declared_licenses(read_wheel_metadata(wheel)) == ["Lizenz für alle"]
