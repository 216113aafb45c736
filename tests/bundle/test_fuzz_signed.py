"""Hypothesis builds *validly signed* bundles with hostile layouts: member names, order, types and sizes drawn at
random, the manifest signed by a trusted key over whatever file list was drawn. Each is refused with a documented
code (docs/bundle-format.md section 6), or accepted exactly when the spec allows it; nothing is ever written outside
the staging folder, and staging is empty again afterwards.

Unlike tests/bundle/test_fuzz.py (single parsers, or byte flips that break the signature), every bundle here
passes the signature check, so the fuzzing reaches the manifest rules and the member walk behind it.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from offline_ner.bundle import TrustStore, verify_bundle
from offline_ner.bundle.manifest import MAGIC, canonical_json_bytes, check_paths
from offline_ner.errors import BundleError, ExitCode, UnsafePathError
from tests.bundle.simulator import NOW, BundleSimulator, Member, fixed_key, snapshot

BUNDLE_CODES = {code for code in ExitCode if ExitCode.BUNDLE_FORMAT <= code <= ExitCode.LIMIT_EXCEEDED}
TYPES = [tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE]

safe_names = st.sampled_from(["records.jsonl", "qa.json", "a", "b", "f/g", "c/d/e", "é", "x" * 120, "ü" * 60])
hostile_names = st.sampled_from(
    ["A", "e\u0301", "..", "../outside/x", "/etc/x", "a\\b", "c:d", "d/" * 8 + "f", ".", "", "a//b", "\u202etxt"]
) | st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=12)
names = st.one_of(safe_names, safe_names, hostile_names)  # mostly safe names, so the member walk is reached often


@dataclass
class Layout:
    """What was drawn: the manifest's (path, bytes) list, in its order, and the tar members that follow it."""

    listed: list[tuple[str, bytes]]
    members: list[Member]


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    listed = draw(st.lists(st.tuples(names, st.binary(max_size=700)), max_size=5, unique_by=lambda item: item[0]))
    if draw(st.booleans()):
        listed.sort(key=lambda item: item[0])  # the spec's order, most of the time
    members = [Member(f"payload/{path}", data) for path, data in listed]
    if draw(st.booleans()):
        members = draw(st.permutations(members))
    for _ in range(draw(st.integers(0, 3))):
        if not members:
            break
        i = draw(st.integers(0, len(members) - 1))
        change = draw(st.sampled_from(["type", "size", "data", "drop", "duplicate", "rename", "extra"]))
        m = members[i]
        if change == "type":
            link = draw(st.sampled_from(["../outside/x", "/etc/passwd", "payload/a"]))
            members[i] = Member(m.name, m.data, type=draw(st.sampled_from(TYPES)), linkname=link)
        elif change == "size":
            members[i] = Member(m.name, m.data, size=draw(st.integers(0, 2000)))
        elif change == "data":
            members[i] = Member(m.name, draw(st.binary(max_size=700)))
        elif change == "drop":
            del members[i]
        elif change == "duplicate":
            members.insert(draw(st.integers(0, len(members))), m)
        elif change == "rename":
            members[i] = Member(draw(st.sampled_from(["payload/", ""])) + draw(names), m.data)
        else:
            name = draw(st.sampled_from(["payload/", "", "offline-ner-bundle", "envelope.json"]))
            members.insert(i, Member(name + draw(names) if name.endswith("/") or not name else name, b"x"))
    return Layout(listed, members)


def spec_allows(layout: Layout) -> bool:
    """docs/bundle-format.md, independently of the verifier's walk: safe collision-free paths, sorted, and the members are
    exactly those files, in that order, as regular files holding the listed bytes."""
    paths = [path for path, _ in layout.listed]
    try:
        check_paths(paths)
    except UnsafePathError:
        return False
    expected = [_form(Member(f"payload/{path}", data)) for path, data in layout.listed]
    return paths == sorted(paths) and [_form(m) for m in layout.members] == expected


def _form(member: Member) -> tuple[object, ...]:
    """What a member's bytes say: name, data, type, link name and the size its header declares."""
    return member.name, member.data, member.type, member.linkname, len(member.data) if member.size is None else member.size


def _write(root: Path, layout: Layout) -> Path | None:
    sim = BundleSimulator(root=root, signers=[fixed_key(1)])
    files = [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for p, d in layout.listed]
    envelope = sim.envelope_bytes(canonical_json_bytes({**sim.fields, "files": files}))
    try:
        return sim.write([Member("offline-ner-bundle", MAGIC), Member("envelope.json", envelope), *layout.members])
    except (ValueError, UnicodeError):  # tarfile cannot encode the drawn member at all
        return None


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    store = TrustStore()
    store.set_role("annotator", threshold=1, kinds=["annotations"], paths=["*"])
    store.add_key(fixed_key(1).public_key(), roles=["annotator"])
    return store


ORDERED = [("a", b"1"), ("b", b"2")]


@given(layouts())
@example(Layout(ORDERED, [Member("payload/a", b"1"), Member("payload/b", b"2")]))  # the one valid form
@example(Layout(ORDERED, [Member("payload/b", b"2"), Member("payload/a", b"1")]))  # members out of manifest order
@example(Layout(ORDERED[::-1], [Member("payload/b", b"2"), Member("payload/a", b"1")]))  # manifest not sorted
@example(Layout([("a", b"1")], [Member("payload/a", type=tarfile.SYMTYPE, linkname="../outside/x")]))
@example(Layout([("A", b"1"), ("a", b"1")], [Member("payload/A", b"1"), Member("payload/a", b"1")]))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_validly_signed_bundle_is_refused_with_a_documented_code_or_accepted_as_the_spec_allows(
    trust: TrustStore, layout: Layout
) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "root"
        (root / "outside").mkdir(parents=True)
        (root / "outside" / "x").write_bytes(b"keep")
        staging = root / "staging"
        staging.mkdir()
        bundle = _write(root, layout)
        if bundle is None:
            return
        before = snapshot(root)
        try:
            verified = verify_bundle(bundle, trust, now=NOW, staging_root=staging)
        except BundleError as err:
            event(f"refused {int(err.exit_code)}")
            assert err.exit_code in BUNDLE_CODES, f"{type(err).__name__}: {err}"
            assert not spec_allows(layout), f"the spec allows this bundle, but it was refused: {err}"
        else:
            event("accepted")
            with verified:
                assert spec_allows(layout), f"accepted a bundle the spec refuses: {verified.report}"
                written = {
                    os.path.relpath(os.path.join(folder, name), verified.payload_dir)
                    for folder, _, files in os.walk(verified.payload_dir)
                    for name in files
                }
                assert written == {path for path, _ in layout.listed}
                for path, data in layout.listed:
                    assert (verified.payload_dir / path).read_bytes() == data
                assert all(
                    os.path.realpath(os.path.join(folder, name)).startswith(os.path.realpath(staging) + os.sep)
                    for folder, _, files in os.walk(staging)
                    for name in files
                )
        assert list(staging.iterdir()) == [], "staging must be empty afterwards"
        assert snapshot(root) == before, "nothing may be written outside staging"
