"""Limits: a small hostile bundle cannot make the verifier read, allocate or write more than the caps allow."""

from __future__ import annotations

import hashlib
import resource

from offline_ner.bundle import Limits
from offline_ner.errors import ExitCode
from tests.bundle.simulator import BundleSimulator, Member, Verifier


def test_small_bundle_declaring_a_huge_file_is_rejected_before_reading(
    sim: BundleSimulator, verifier: Verifier
) -> None:
    # the manifest (signed) claims a 1 TB file; the verifier must refuse from the manifest alone
    sim.listed = {**sim.files}
    manifest = sim.manifest_dict()
    manifest["files"][0]["size"] = 10**12
    sim.manifest_dict = lambda: manifest  # type: ignore[method-assign]
    err = verifier.rejects(sim.write(), ExitCode.LIMIT_EXCEEDED)
    assert "per-file limit" in str(err)


def test_tar_header_declaring_a_huge_member_reads_no_more_than_the_manifest_size(
    sim: BundleSimulator, verifier: Verifier
) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    members = [Member(m.name, m.data, size=8**11 - 1) if m.name == "payload/qa.json" else m for m in sim.members()]
    verifier.rejects(sim.write(members), ExitCode.HASH_MISMATCH)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50_000  # KiB: nothing was buffered


def test_envelope_larger_than_the_cap_is_rejected_before_it_is_read(sim: BundleSimulator, verifier: Verifier) -> None:
    members = sim.with_member("envelope.json", size=1 << 30)  # declares 1 GiB, holds 1 KB
    verifier.rejects(sim.write(members), ExitCode.LIMIT_EXCEEDED, limits=Limits(max_envelope_bytes=1 << 20))


def test_too_many_files_are_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    for index in range(20):
        sim.files[f"part-{index:02d}.jsonl"] = b"{}"
    verifier.rejects(sim.write(), ExitCode.LIMIT_EXCEEDED, limits=Limits(max_files=10))


def test_total_size_over_the_cap_is_rejected(sim: BundleSimulator, verifier: Verifier) -> None:
    verifier.rejects(sim.write(), ExitCode.LIMIT_EXCEEDED, limits=Limits(max_total_bytes=100))


def test_flood_of_unlisted_members_stops_reading(sim: BundleSimulator, verifier: Verifier) -> None:
    flood = [Member(f"payload/flood-{i}", hashlib.sha256(bytes([i])).digest()) for i in range(40)]
    err = verifier.rejects(sim.write(sim.members() + flood), ExitCode.EXTRA_FILE)
    assert {c["check"]: c["verdict"] for c in err.report.checks}["member count"] == "failed"
    assert len([e for e in err.report.files if e["verdict"] == "ExtraFileError"]) < len(flood)
