"""Two real `offline-ner` processes racing on one trust store: one import is held mid-verify by a slow FIFO while
the other runs. The trust store's lock makes each load-check-save one step, so whichever finishes first, an older
sequence is refused (26), the ratchet never moves back, and no stream or key is lost: also when one process names
the store through a symlink and the other its target (the lock is the file's, not the name's). One file under two
real names (a hard link, a bind mount) is refused (33): a save renames over one name and the other keeps the old
ratchet."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from offline_ner.bundle import TrustStore
from offline_ner.errors import ExitCode
from tests.bundle.processes import REPO, HeldFifo, held_bundle, offline_ner
from tests.bundle.simulator import BundleSimulator, fixed_key


def _wait_until_blocked_on_a_lock(proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Until ``proc`` holds a '.lock' file open (it waits in flock) or has already exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fds = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if any(target.endswith(".lock") for target in fds):
            time.sleep(0.3)  # from open() to flock()
            return
        time.sleep(0.05)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # the CLI runs in real subprocesses here: the whole environment, with this checkout importable
    return {**os.environ, **env, "PYTHONPATH": str(REPO)}


# how the held import and the other command name the trust store: one path, or a symlink and its target
NAMES = {
    "one path": ("trust.json", "trust.json"),
    "held via a symlink": ("link.json", "trust.json"),
    "other via a symlink": ("trust.json", "link.json"),
}


@pytest.fixture(params=["one path", "held via a symlink"])
def names(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "link.json").symlink_to("trust.json")
    return NAMES[request.param]


def _race(
    tmp_path: Path, env: dict[str, str], held: Path, other: list[str], names: tuple[str, str] = NAMES["one path"]
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Import ``held`` through a stalled FIFO; run ``other`` meanwhile; release the FIFO; both results.

    ``names``: the trust store's file names (in ``tmp_path``) the held import and the other command are given."""
    fifo = HeldFifo(tmp_path / "held.fifo", held.read_bytes())
    first = offline_ner(env, "bundle", "import", str(fifo.path), "--trust-store", str(tmp_path / names[0]))
    assert fifo.reading.wait(30), "the held import never started reading"
    second = offline_ner(env, *other, "--trust-store", str(tmp_path / names[1]))
    _wait_until_blocked_on_a_lock(second)
    fifo.release.set()
    results = [subprocess.CompletedProcess(p.args, 0, *p.communicate(timeout=60)) for p in (first, second)]
    for proc, result in zip((first, second), results):
        result.returncode = proc.returncode
    fifo.thread.join(10)
    return results[0], results[1]


@pytest.mark.parametrize("names", list(NAMES), indirect=True)
@pytest.mark.usefixtures("trust")
def test_older_sequence_started_while_a_newer_one_is_verified_is_refused(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str], names: tuple[str, str]
) -> None:
    m3, m2 = held_bundle(sim, "conll-llm", 3), held_bundle(sim, "conll-llm", 2)
    newer, older = _race(tmp_path, env, held=m3, other=["bundle", "import", str(m2)], names=names)
    assert newer.returncode == 0, newer.stderr
    assert older.returncode == ExitCode.ROLLBACK, older.stderr
    assert TrustStore.load(tmp_path / "trust.json").streams["conll-llm"].sequence == 3
    assert sorted(p.name for p in (tmp_path / "store" / "refs" / "conll-llm").iterdir()) == ["3"]


@pytest.mark.usefixtures("trust")
def test_newer_sequence_started_while_an_older_one_is_verified_is_accepted_after_it(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str], names: tuple[str, str]
) -> None:
    m2, m3 = held_bundle(sim, "conll-llm", 2), held_bundle(sim, "conll-llm", 3)
    older, newer = _race(tmp_path, env, held=m2, other=["bundle", "import", str(m3)], names=names)
    assert (older.returncode, newer.returncode) == (0, 0), older.stderr + newer.stderr
    assert TrustStore.load(tmp_path / "trust.json").streams["conll-llm"].sequence == 3


@pytest.mark.usefixtures("trust")
def test_an_import_of_another_stream_during_a_held_import_loses_neither_stream(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str], names: tuple[str, str]
) -> None:
    held, other = held_bundle(sim, "conll-llm", 3), held_bundle(sim, "bbc-llm", 1)
    first, second = _race(tmp_path, env, held=held, other=["bundle", "import", str(other)], names=names)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    streams = TrustStore.load(tmp_path / "trust.json").streams
    assert {s: st.sequence for s, st in streams.items()} == {"bbc-llm": 1, "conll-llm": 3}
    assert {p.name for p in (tmp_path / "store" / "refs").iterdir()} == {"bbc-llm", "conll-llm"}


def test_a_key_trusted_during_a_held_import_is_kept(
    sim: BundleSimulator, trust: TrustStore, tmp_path: Path, env: dict[str, str], names: tuple[str, str]
) -> None:
    pem = tmp_path / "carol.pub.pem"
    pem.write_bytes(
        fixed_key(3)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    held = held_bundle(sim, "conll-llm", 3)
    first, second = _race(
        tmp_path, env, held=held, other=["trust", "add", str(pem), "--role", "annotator"], names=names
    )
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    after = TrustStore.load(tmp_path / "trust.json")
    assert len(after.keys) == len(trust.keys) + 1
    assert after.streams["conll-llm"].sequence == 3


def _unshare_mount_works() -> bool:
    probe = ["unshare", "-rm", "sh", "-c", "touch /tmp/.probe-$$ && mount --bind /tmp/.probe-$$ /tmp/.probe-$$"]
    return shutil.which("unshare") is not None and subprocess.run(probe, check=False, capture_output=True).returncode == 0


@pytest.mark.usefixtures("trust")
def test_imports_through_a_hard_link_and_its_original_are_both_refused_and_change_nothing(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str]
) -> None:
    os.link(tmp_path / "trust.json", tmp_path / "hard.json")
    before = (tmp_path / "trust.json").read_bytes()
    m3, m2 = held_bundle(sim, "conll-llm", 3), held_bundle(sim, "conll-llm", 2)
    procs = [
        offline_ner(env, "bundle", "import", str(bundle), "--trust-store", str(tmp_path / name))
        for bundle, name in ((m3, "trust.json"), (m2, "hard.json"))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == ExitCode.TRUST_STORE, err
        assert "hard links" in err
    assert (tmp_path / "trust.json").read_bytes() == (tmp_path / "hard.json").read_bytes() == before
    assert not (tmp_path / "store" / "refs").exists()


@pytest.mark.skipif(not _unshare_mount_works(), reason="no 'unshare -rm' + 'mount --bind' here (user namespaces off)")
@pytest.mark.usefixtures("trust")
def test_an_import_through_a_bind_mount_of_the_store_during_a_held_import_is_refused(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str]
) -> None:
    # the other process sees trust.json also at bound.json (its own mount namespace): two real paths, one file
    (tmp_path / "bound.json").touch()
    m3, m2 = held_bundle(sim, "conll-llm", 3), held_bundle(sim, "conll-llm", 2)
    bind = f"mount --bind {tmp_path / 'trust.json'} {tmp_path / 'bound.json'} && exec \"$0\" \"$@\""
    other = ["unshare", "-rm", "sh", "-c", bind, sys.executable, "-m", "offline_ner", "bundle", "import", str(m2)]
    fifo = HeldFifo(tmp_path / "held.fifo", m3.read_bytes())
    first = offline_ner(env, "bundle", "import", str(fifo.path))
    assert fifo.reading.wait(30), "the held import never started reading"
    second = subprocess.run(
        [*other, "--json", "--trust-store", str(tmp_path / "bound.json")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    fifo.release.set()
    _, err = first.communicate(timeout=60)
    fifo.thread.join(10)
    assert first.returncode == 0, err
    assert second.returncode == ExitCode.TRUST_STORE, second.stderr
    assert "bind-mounted" in second.stderr
    assert TrustStore.load(tmp_path / "trust.json").streams["conll-llm"].sequence == 3
    assert sorted(p.name for p in (tmp_path / "store" / "refs" / "conll-llm").iterdir()) == ["3"]
