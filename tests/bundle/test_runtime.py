"""Runtime bundles: a hash-pinned wheelhouse plus install.sh, which verifies with stock openssl and sha256sum
and installs with no network into a fresh virtual environment, on a machine without offline-ner."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, create_bundle, verify_bundle
from offline_ner.bundle.envelope import loads_envelope
from offline_ner.bundle.keys import public_key_pem
from offline_ner.bundle.manifest import MAGIC, canonical_json_bytes
from offline_ner.bundle.runtime import Target, lock_text
from offline_ner.errors import BundleError, ExitCode
from tests.bundle.simulator import CREATED, NOW, BundleSimulator, Member, fixed_key
from tests.bundle.wheels import build_wheel

TOOLS = ("openssl", "sha256sum", "tar", "base64")
needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS), reason=f"install.sh needs {', '.join(TOOLS)}"
)


def _offline_prefix() -> list[str]:
    """``unshare -n`` (a new network namespace with no interfaces) where we may create one, else nothing."""
    probe = ["unshare", "-n", "true"]
    if shutil.which("unshare") and subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def this_host(**changes: str) -> Target:
    """A target like the machine running the tests, with ``changes`` (e.g. another Python)."""
    fields = {"python": "%d.%d" % sys.version_info[:2], "glibc": platform.libc_ver()[1] or "2.17",  # noqa: UP031
              "arch": platform.machine()}
    return Target(**{**fields, **changes})


def make_runtime_bundle(tmp_path: Path, key: Ed25519PrivateKey, target: Target, requires: str = "tinydep") -> Path:
    wheelhouse = tmp_path / "wheelhouse"
    build_wheel(wheelhouse, "tinypkg", "1.0", requires=(requires,))
    build_wheel(wheelhouse, "tinydep", "2.0")
    target.write(wheelhouse)
    (tmp_path / "alice.pub.pem").write_bytes(public_key_pem(key.public_key()))
    return create_bundle(
        wheelhouse,
        kind="runtime",
        stream="runtime-py311",
        sequence=1,
        keys=[key],
        out=tmp_path / "runtime.bundle",
        created=CREATED,
    )


@pytest.fixture
def runtime_bundle(tmp_path: Path, alice: Ed25519PrivateKey) -> Path:
    return make_runtime_bundle(tmp_path, alice, this_host())


def _install(bundle: Path, tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the bundle's install.sh on ``bundle`` (a name relative to ``cwd`` when that is given)."""
    script = tmp_path / "install.sh"
    with tarfile.open(bundle if cwd is None else cwd / bundle) as archive:  # take install.sh out, read it, run it
        script.write_bytes(archive.extractfile("payload/install.sh").read())  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["TMPDIR"] = str(tmp_path / "install-tmp")  # install.sh's private work folder goes here, and must go away
    (tmp_path / "install-tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [*_offline_prefix(), "sh", str(script), str(bundle), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=cwd,
    )


def test_lock_pins_every_wheel_by_hash() -> None:
    lock = lock_text({"tinypkg-1.0-py3-none-any.whl": "a" * 64, "Tiny_Dep-2.0-py3-none-any.whl": "b" * 64})
    assert lock.splitlines()[1:] == [
        f"tiny-dep==2.0 --hash=sha256:{'b' * 64}",
        f"tinypkg==1.0 --hash=sha256:{'a' * 64}",
    ]


def test_two_versions_of_one_project_are_refused() -> None:
    with pytest.raises(BundleError, match="keep one version"):
        lock_text({"tinypkg-1.0-py3-none-any.whl": "a" * 64, "tinypkg-1.1-py3-none-any.whl": "b" * 64})


def test_sdist_in_the_wheelhouse_is_refused(tmp_path: Path, alice: Ed25519PrivateKey) -> None:
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "tinypkg-1.0.tar.gz").write_bytes(b"sdist")
    this_host().write(tmp_path / "wh")
    with pytest.raises(BundleError, match="wheels only"):
        create_bundle(tmp_path / "wh", kind="runtime", stream="rt", sequence=1, keys=[alice], out=tmp_path / "x")


def test_a_wheelhouse_without_a_target_is_refused(tmp_path: Path, alice: Ed25519PrivateKey) -> None:
    build_wheel(tmp_path / "wh", "tinypkg", "1.0")
    with pytest.raises(BundleError, match="no target.json.*bundle runtime"):
        create_bundle(tmp_path / "wh", kind="runtime", stream="rt", sequence=1, keys=[alice], out=tmp_path / "x")


def test_a_wheel_that_needs_a_newer_glibc_than_the_target_is_refused(tmp_path: Path, alice: Ed25519PrivateKey) -> None:
    (tmp_path / "wh").mkdir()
    Target(python="3.11", glibc="2.28").write(tmp_path / "wh")
    (tmp_path / "wh" / "cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl").write_bytes(b"wheel")
    with pytest.raises(BundleError, match="does not fit the target .*glibc >= 2.28"):
        create_bundle(tmp_path / "wh", kind="runtime", stream="rt", sequence=1, keys=[alice], out=tmp_path / "x")


def test_the_target_lists_every_manylinux_tag_down_from_its_glibc_floor() -> None:
    tags = Target(python="3.11", glibc="2.28").platform_tags()
    assert tags[0] == "manylinux_2_28_x86_64" and tags[-1] == "manylinux1_x86_64"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64"} <= set(tags)
    assert "manylinux_2_29_x86_64" not in tags


def test_runtime_bundle_verifies_like_any_bundle(
    runtime_bundle: Path, tmp_path: Path, alice: Ed25519PrivateKey
) -> None:
    trust = TrustStore(path=tmp_path / "trust.json")
    trust.set_role("release", threshold=1, kinds=["runtime"], paths=["wheels/*", "requirements.lock", "install.sh",
                                                                        "sbom.cdx.json"])
    trust.add_key(alice.public_key(), roles=["release"])
    with verify_bundle(runtime_bundle, trust, now=NOW) as verified:
        assert verified.manifest.provenance["projects"] == ["tinydep==2.0", "tinypkg==1.0"]
        assert verified.manifest.provenance["target"] == this_host().to_json()  # signed: install.sh checks it
        assert "--hash=sha256:" in (verified.payload_dir / "requirements.lock").read_text()


@needs_tools
def test_install_sh_installs_into_a_fresh_venv_with_no_network(runtime_bundle: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == 0, result.stderr
    assert "files match the signed manifest" in result.stderr
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import tinypkg, tinydep; print(tinypkg.VALUE)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "tinypkg 1.0"


def _flip_in_member(bundle: Path, name: str) -> None:
    with tarfile.open(bundle) as archive:
        member = archive.getmember(name)
    data = bytearray(bundle.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0x01
    bundle.write_bytes(bytes(data))


@needs_tools
def test_install_sh_refuses_a_tampered_wheel_before_installing(runtime_bundle: Path, tmp_path: Path) -> None:
    _flip_in_member(runtime_bundle, "payload/wheels/tinypkg-1.0-py3-none-any.whl")
    venv = tmp_path / "venv"
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == ExitCode.HASH_MISMATCH, result.stderr
    assert not venv.exists()


@needs_tools
def test_install_sh_refuses_a_tampered_manifest(runtime_bundle: Path, tmp_path: Path) -> None:
    _flip_in_member(runtime_bundle, "envelope.json")
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"))
    assert result.returncode in (ExitCode.BUNDLE_FORMAT, ExitCode.SIGNATURE), result.stderr


@needs_tools
def test_install_sh_refuses_a_bundle_signed_by_another_key(runtime_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "other.pub.pem").write_bytes(public_key_pem(fixed_key(9).public_key()))
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "other.pub.pem"))
    assert result.returncode == ExitCode.SIGNATURE, result.stderr


@needs_tools
def test_install_sh_counts_one_key_once_toward_its_threshold(runtime_bundle: Path, tmp_path: Path) -> None:
    pem = str(tmp_path / "alice.pub.pem")
    result = _install(runtime_bundle, tmp_path, "--pubkey", pem, "--pubkey", pem, "--threshold", "2")
    assert result.returncode == ExitCode.THRESHOLD, result.stderr


@needs_tools
def test_install_sh_refuses_an_appended_member(runtime_bundle: Path, tmp_path: Path) -> None:
    from offline_ner.bundle._tar import END_OF_ARCHIVE, member_header, padding

    data = runtime_bundle.read_bytes()[: -len(END_OF_ARCHIVE)]
    extra = member_header("payload/wheels/evil-1.0-py3-none-any.whl", 4, 0) + b"evil" + padding(4)
    runtime_bundle.write_bytes(data + extra + END_OF_ARCHIVE)
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"))
    assert result.returncode == ExitCode.EXTRA_FILE, result.stderr


def _reordered(bundle: Path, alice: Ed25519PrivateKey, *, manifest_reversed: bool) -> Path:
    """The runtime bundle validly re-signed with its payload members in reverse order (and the manifest's list)."""
    with tarfile.open(bundle) as archive:
        payload = {
            m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.name.startswith("payload/")
        }
        envelope = loads_envelope(archive.extractfile("envelope.json").read(), max_bytes=1 << 20)  # type: ignore[union-attr]
    manifest = json.loads(envelope.payload)
    if manifest_reversed:
        manifest["files"].reverse()
    sim = BundleSimulator(root=bundle.parent, signers=[alice])
    members = [Member("offline-ner-bundle", MAGIC), Member("envelope.json", sim.envelope_bytes(canonical_json_bytes(manifest)))]
    members += [Member(name, payload[name]) for name in sorted(payload, reverse=True)]
    return sim.write(members, name="reordered.bundle")


@needs_tools
@pytest.mark.parametrize(
    ("manifest_reversed", "exit_code"),
    [(False, ExitCode.EXTRA_FILE), (True, ExitCode.BUNDLE_FORMAT)],
    ids=["members-out-of-manifest-order", "manifest-not-sorted"],
)
def test_python_verifier_and_install_sh_refuse_a_reordered_bundle_alike(
    runtime_bundle: Path, tmp_path: Path, alice: Ed25519PrivateKey, manifest_reversed: bool, exit_code: int
) -> None:
    bundle = _reordered(runtime_bundle, alice, manifest_reversed=manifest_reversed)
    trust = TrustStore()
    trust.set_role("release", threshold=1, kinds=["runtime"], paths=["wheels/*", "requirements.lock", "install.sh",
                                                                        "sbom.cdx.json"])
    trust.add_key(alice.public_key(), roles=["release"])
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle, trust, now=NOW)
    assert info.value.exit_code == exit_code, info.value
    venv = tmp_path / "venv"
    result = _install(bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == exit_code, result.stderr
    assert not venv.exists()


@needs_tools
def test_install_sh_refuses_data_after_the_end_of_the_archive(runtime_bundle: Path, tmp_path: Path) -> None:
    with runtime_bundle.open("ab") as handle:
        handle.write(b"unsigned data")
    venv = tmp_path / "venv"
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == ExitCode.EXTRA_FILE, result.stderr
    assert "data follows the end-of-archive marker" in result.stderr
    assert not venv.exists()


@needs_tools
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"python": "3.99"}, "wheels are for Python 3.99 (give --python python3.99)"),
        ({"glibc": "2.99"}, "wheels need glibc 2.99 or newer"),
        ({"arch": "riscv64"}, "wheels are for riscv64"),
    ],
    ids=["another-python", "older-glibc", "another-cpu"],
)
def test_install_sh_refuses_a_host_that_is_not_the_target_before_pip_runs(
    tmp_path: Path, alice: Ed25519PrivateKey, change: dict[str, str], message: str
) -> None:
    bundle = make_runtime_bundle(tmp_path, alice, this_host(**change))
    venv = tmp_path / "venv"
    result = _install(bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == ExitCode.TARGET, result.stderr
    assert message in result.stderr
    assert not venv.exists()


@needs_tools
def test_install_sh_removes_the_venv_it_made_when_pip_fails(tmp_path: Path, alice: Ed25519PrivateKey) -> None:
    bundle = make_runtime_bundle(tmp_path, alice, this_host(), requires="absentdep")  # pip cannot resolve it
    venv = tmp_path / "venv"
    result = _install(bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == 1, result.stderr
    assert "removed the unfinished virtual environment" in result.stderr
    assert not venv.exists()
    assert not any((tmp_path / "install-tmp").iterdir())


@needs_tools
def test_install_sh_never_touches_an_existing_venv_folder(runtime_bundle: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "keep").write_text("mine")
    result = _install(runtime_bundle, tmp_path, "--pubkey", str(tmp_path / "alice.pub.pem"), "--venv", str(venv))
    assert result.returncode == ExitCode.USAGE and "already exists" in result.stderr
    assert (venv / "keep").read_text() == "mine"
