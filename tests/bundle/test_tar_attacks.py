"""Structural attacks on the container: each is refused before anything is written outside staging.

Every attack here has broken a real extractor: symlink or hardlink members that redirect later writes (Zarf's
CVE-2026-29064), '..' and absolute names, NUL-truncated names, duplicate members (tools disagree which wins),
case and Unicode-form collisions (two names, one file on macOS/Windows), pax headers that rename a member.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from offline_ner.bundle._tar import parse_header
from offline_ner.errors import BundleError, ExitCode
from tests.bundle.simulator import BundleSimulator, Member, Verifier


def _escapes(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "evil", tmp_path.parent / "evil", Path("/tmp/evil-offline-ner")) if p.exists()]


@pytest.mark.parametrize(
    ("member", "description"),
    [
        (Member("payload/records.jsonl", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symlink"),
        (Member("payload/records.jsonl", type=tarfile.LNKTYPE, linkname="offline-ner-bundle"), "hardlink"),
        (Member("payload/records.jsonl", type=tarfile.CHRTYPE), "character device"),
        (Member("payload/records.jsonl", type=tarfile.FIFOTYPE), "fifo"),
        (Member("payload/records.jsonl", type=tarfile.DIRTYPE), "folder"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_non_regular_member_is_rejected_before_anything_is_written(
    sim: BundleSimulator, verifier: Verifier, tmp_path: Path, member: Member, description: str
) -> None:
    members = [m for m in sim.members() if m.name != "payload/records.jsonl"] + [member]
    err = verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)
    assert description.split()[-1] in str(err) or "link" in str(err)


def test_symlink_then_file_through_it_is_rejected(sim: BundleSimulator, verifier: Verifier, tmp_path: Path) -> None:
    # the classic two-step escape: a link to a folder outside, then a file written "through" it
    members = (
        sim.members()[:2]
        + [
            Member("payload/out", type=tarfile.SYMTYPE, linkname=str(tmp_path)),
            Member("payload/out/evil", b"pwned"),
        ]
        + sim.members()[2:]
    )
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)
    assert _escapes(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "payload/../../evil",
        "/tmp/evil-offline-ner",
        "payload/..\\..\\evil",
        "payload/C:evil",
        "payload/./records.jsonl",
        "payload//records.jsonl",
        "payload/\x1b[2Jrecords.jsonl",
    ],
)
def test_unsafe_member_name_is_rejected_and_never_written(
    sim: BundleSimulator, verifier: Verifier, tmp_path: Path, name: str
) -> None:
    members = sim.members() + [Member(name, b"pwned")]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)
    assert _escapes(tmp_path) == []


def test_nul_in_member_name_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    # "payload/qa.json\0../../evil": one tool reads up to the NUL, another the whole field
    members = sim.members() + [Member("payload/x\0../../evil", b"pwned")]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_duplicate_member_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.members() + [Member("payload/records.jsonl", b'{"id": "evil"}\n')]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_second_envelope_member_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.members() + [Member("envelope.json", b"{}")]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_case_collision_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    # on a case-insensitive file system Records.jsonl would overwrite the verified records.jsonl
    members = sim.members() + [Member("payload/Records.jsonl", b"evil")]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_unicode_normalisation_collision_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    sim.files["caf\u00e9.json"] = b"{}"  # NFC, listed and signed
    members = sim.members() + [Member("payload/cafe\u0301.json", b"evil")]  # NFD: the same name on macOS
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_manifest_with_colliding_paths_is_rejected_even_if_signed(sim: BundleSimulator, verifier: Verifier) -> None:
    # defence in depth: a trusted but careless (or compromised) signer cannot ship a collision either
    sim.files["QA.json"] = b"{}"
    verifier.rejects(sim.write(), ExitCode.UNSAFE_PATH)


def test_manifest_with_dotdot_path_is_rejected_even_if_signed(
    sim: BundleSimulator, verifier: Verifier, tmp_path: Path
) -> None:
    sim.listed = {**sim.files, "../evil": b"pwned"}
    verifier.rejects(sim.write(sim.members() + [Member("payload/../evil", b"pwned")]), ExitCode.UNSAFE_PATH)
    assert _escapes(tmp_path) == []


def test_gnu_long_name_header_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    # GNU 'L' headers rename the next member; only the writer's own pax form is read
    members = sim.members() + [Member("payload/" + "n" * 120, b"x", fmt=tarfile.GNU_FORMAT)]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def _record(key: str, value: str) -> bytes:
    """One pax record, "<length> key=value\\n", where length counts itself."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _pax_member(records: bytes, then: Member) -> list[Member]:
    return [Member("././@PaxHeader", records, type=tarfile.XHDTYPE), then]


@pytest.mark.parametrize(
    "records",
    [
        _record("linkpath", "/etc/passwd"),  # a link target smuggled into a "regular" file
        _record("uid", "0"),
        _record("path", "payload/extra") * 2,  # the same key twice: which one wins?
    ],
)
def test_pax_header_with_anything_but_one_path_and_size_is_rejected(
    sim: BundleSimulator, verifier: Verifier, records: bytes
) -> None:
    members = sim.members() + _pax_member(records, Member("payload/extra", b"x"))
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)


def test_pax_global_header_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.members()[:2] + [Member("pax_global_header", b"20 comment=hello...\n", type=tarfile.XGLTYPE)]
    verifier.rejects(sim.write(members + sim.members()[2:]), ExitCode.UNSAFE_PATH)


def test_pax_path_that_escapes_is_rejected(sim: BundleSimulator, verifier: Verifier, tmp_path: Path) -> None:
    # the ustar name says one thing, the pax path another: the pax path is what extractors use
    members = sim.members() + [Member("payload/../../" + "e" * 120, b"pwned", fmt=tarfile.PAX_FORMAT)]
    verifier.rejects(sim.write(members), ExitCode.UNSAFE_PATH)
    assert _escapes(tmp_path) == []


def test_pax_header_disagreeing_with_its_ustar_header_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    long_name = "payload/" + "w" * 130 + ".whl"
    sim.files[long_name.removeprefix("payload/")] = b"wheel"
    good = sim.members()
    raw = b"".join(m.to_bytes() for m in good)
    at = raw.index(b"w" * 100)  # inside the truncated ustar name that follows the pax header
    forged = bytearray(raw)
    forged[at] = ord("v")
    forged[at - 345 + 148 : at - 345 + 156] = b"%06o\0 " % (
        sum(forged[at - 345 : at - 345 + 148]) + 256 + sum(forged[at - 345 + 156 : at - 345 + 512])
    )
    path = sim.root / "forged.bundle"
    path.write_bytes(bytes(forged) + b"\0" * 1024)
    verifier.rejects(path, ExitCode.BUNDLE_FORMAT)


def test_long_wheel_name_is_carried_in_the_writers_own_pax_form(sim: BundleSimulator, verifier: Verifier) -> None:
    name = "charset_normalizer-3.5.3-cp311-cp311-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl"
    sim.files[f"wheels/{name}"] = b"wheel bytes"
    report = verifier.accepts(sim.write())
    assert f"wheels/{name}" in [entry["path"] for entry in report.files]


def test_unlisted_member_is_rejected_as_extra(sim: BundleSimulator, verifier: Verifier) -> None:
    err = verifier.rejects(sim.write(sim.members() + [Member("payload/extra.txt", b"hi")]), ExitCode.EXTRA_FILE)
    assert {e["path"]: e["verdict"] for e in err.report.files}["extra.txt"] == "ExtraFileError"


def test_member_outside_payload_is_rejected_as_extra(sim: BundleSimulator, verifier: Verifier) -> None:
    verifier.rejects(sim.write(sim.members() + [Member("README", b"hi")]), ExitCode.EXTRA_FILE)


def test_listed_file_left_out_is_rejected_as_missing(sim: BundleSimulator, verifier: Verifier) -> None:
    members = [m for m in sim.members() if m.name != "payload/qa.json"]
    err = verifier.rejects(sim.write(members), ExitCode.MISSING_FILE)
    assert {e["path"]: e["verdict"] for e in err.report.files}["qa.json"] == "MissingFileError"


def test_wrong_magic_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.with_member("offline-ner-bundle", data=b"offline-ner-bundle 9\n")
    err = verifier.rejects(sim.write(members), ExitCode.BUNDLE_FORMAT)
    assert "unsupported bundle format" in str(err)


def test_envelope_not_second_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.members()
    members[1], members[2] = members[2], members[1]
    verifier.rejects(sim.write(members), ExitCode.BUNDLE_FORMAT)


def test_plain_tar_written_by_tarfile_is_not_a_bundle(tmp_path: Path, verifier: Verifier) -> None:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(__file__, arcname="payload/x.py")
    verifier.rejects(path, ExitCode.BUNDLE_FORMAT)


def test_gnu_tar_magic_header_is_rejected() -> None:
    block = bytearray(Member("payload/x", b"").to_bytes()[:512])
    block[257:265] = b"ustar  \0"
    block[148:156] = b"%06o\0 " % (sum(block[:148]) + 8 * 32 + sum(block[156:]))  # a valid checksum again
    with pytest.raises(BundleError) as info:
        parse_header(bytes(block), 0)
    assert info.value.exit_code == ExitCode.BUNDLE_FORMAT


def test_checksum_damage_in_a_header_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    path = sim.write()
    first_payload = 1024 + 512 + -(-len(sim.envelope_bytes()) // 512) * 512
    data = bytearray(path.read_bytes())
    data[first_payload + 10] ^= 0x01  # inside the first payload member's name; its checksum no longer matches
    path.write_bytes(bytes(data))
    err = verifier.rejects(path, ExitCode.BUNDLE_FORMAT)
    assert "invalid" in str(err)
