"""One byte form (issue 28): a validly signed bundle rewritten with one header field, padding byte or trailer
changed is another byte form of it. The Python verifier and install.sh refuse each with the same documented code
(FORMAT.md, sections 1 and 6), whatever the bundle's file name; a member whose mtime is not the manifest's
``created`` is also refused by ``bundle import``, which then changes nothing."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from offline_ner.bundle import TrustStore, import_bundle, verify_bundle
from offline_ner.bundle._tar import BLOCK, END_OF_ARCHIVE, padding
from offline_ner.errors import BundleError, ExitCode
from tests.bundle.simulator import CREATED, NOW, BundleSimulator, Verifier, fixed_key, snapshot
from tests.bundle.test_runtime import _install, make_runtime_bundle, needs_tools, this_host

LATER = int(CREATED.timestamp()) + 1


def _rewrite(
    bundle: Path,
    out: Path,
    member: str = "",
    *,
    changes: dict[str, object] | None = None,
    pax: dict[str, str] | None = None,
    pad: bool = False,
    end: bytes = END_OF_ARCHIVE,
    trailer: bytes = b"",
) -> Path:
    """``bundle`` written again member by member as the writer does, with ``member``'s header ``changes``
    (TarInfo fields), extra ``pax`` records or a non-zero byte in its ``pad``ding; then ``end`` and ``trailer``."""
    parts = []
    with tarfile.open(bundle) as archive:
        for info in archive.getmembers():
            data = archive.extractfile(info).read()  # type: ignore[union-attr]
            header = tarfile.TarInfo(info.name)
            header.size, header.mtime, header.mode, header.uname, header.gname = len(data), info.mtime, 0o644, "", ""
            fill = padding(len(data))
            if info.name == member:
                for field, value in (changes or {}).items():
                    setattr(header, field, value)
                header.pax_headers = dict(pax or {})
                if pad:
                    fill = fill[:-1] + b"\x01"
            parts.append(header.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict") + data + fill)
    out.write_bytes(b"".join(parts) + end + trailer)
    return out


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid runtime bundle for this host, and alice's public key beside it."""
    return make_runtime_bundle(tmp_path_factory.mktemp("runtime"), fixed_key(1), this_host())


def _padded_member(bundle: Path) -> str:
    """A payload member whose size is not a multiple of 512, so it has padding to hide a byte in."""
    with tarfile.open(bundle) as archive:
        return next(m.name for m in archive.getmembers() if m.name.startswith("payload/") and m.size % BLOCK)


CASES = {
    # name: (member, rewrite arguments, exit code)
    "payload-mtime-not-created": ("payload/requirements.lock", {"changes": {"mtime": LATER}}, ExitCode.BUNDLE_FORMAT),
    "magic-mtime-not-created": ("offline-ner-bundle", {"changes": {"mtime": LATER}}, ExitCode.BUNDLE_FORMAT),
    "envelope-mtime-not-created": ("envelope.json", {"changes": {"mtime": LATER}}, ExitCode.BUNDLE_FORMAT),
    "setuid-mode": ("payload/requirements.lock", {"changes": {"mode": 0o4644}}, ExitCode.BUNDLE_FORMAT),
    "owner-name": ("payload/requirements.lock", {"changes": {"uname": "root"}}, ExitCode.BUNDLE_FORMAT),
    "pax-comment": ("payload/requirements.lock", {"pax": {"comment": "hidden"}}, ExitCode.UNSAFE_PATH),
    "non-zero-member-padding": ("<padded>", {"pad": True}, ExitCode.BUNDLE_FORMAT),
    "non-zero-end-block": ("", {"end": END_OF_ARCHIVE[:-1] + b"\x01"}, ExitCode.BUNDLE_FORMAT),
    "data-after-the-end": ("", {"trailer": b"unsigned"}, ExitCode.EXTRA_FILE),
}


def test_rewriting_without_a_change_gives_the_signed_bytes(runtime: Path, tmp_path: Path) -> None:
    # the control for every case below: the rewrite itself changes nothing
    assert _rewrite(runtime, tmp_path / "same.bundle").read_bytes() == runtime.read_bytes()


@needs_tools
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", ["crafted.bundle", "-hid.bundle"], ids=["plain-name", "name-like-an-option"])
def test_python_verifier_and_install_sh_refuse_another_byte_form_alike(
    runtime: Path, tmp_path: Path, case: str, name: str
) -> None:
    member, arguments, exit_code = CASES[case]
    member = _padded_member(runtime) if member == "<padded>" else member
    bundle = _rewrite(runtime, tmp_path / name, member, **arguments)  # type: ignore[arg-type]
    trust = TrustStore()
    trust.set_role("release", threshold=1, kinds=["runtime"], paths=["wheels/*", "requirements.lock", "install.sh",
                                                                        "sbom.cdx.json"])
    trust.add_key(fixed_key(1).public_key(), roles=["release"])
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle, trust, now=NOW, staging_root=tmp_path / "staging")
    assert info.value.exit_code == exit_code, info.value
    shutil.copy(runtime.parent / "alice.pub.pem", tmp_path / "alice.pub.pem")
    venv = tmp_path / "venv"
    result = _install(Path(name), tmp_path, "--pubkey", "alice.pub.pem", "--venv", str(venv), cwd=tmp_path)
    assert result.returncode == exit_code, result.stderr
    assert not venv.exists()


def test_a_member_whose_mtime_is_not_created_is_refused_by_verify_and_import(
    sim: BundleSimulator, verifier: Verifier, trust: TrustStore, tmp_path: Path
) -> None:
    members = sim.with_member("payload/records.jsonl", mtime=LATER)
    bundle = sim.write(members)
    err = verifier.rejects(bundle, ExitCode.BUNDLE_FORMAT)
    assert {f["path"]: f["verdict"] for f in err.report.files}["records.jsonl"] == "BundleError"
    before = snapshot(tmp_path)
    with pytest.raises(BundleError) as info:
        import_bundle(bundle, trust, tmp_path / "store", now=NOW)
    assert info.value.exit_code == ExitCode.BUNDLE_FORMAT
    assert TrustStore.load(tmp_path / "trust.json").streams == {}
    after = {name: data for name, data in snapshot(tmp_path).items() if not name.endswith(".lock")}
    assert after == before, "a refused import changes no file (it leaves only its empty lock files)"
