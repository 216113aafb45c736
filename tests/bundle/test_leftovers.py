"""Crash leftovers (issue 28): what a process killed with SIGKILL leaves outside the content store (a verification's
staging folder of unverified payload in $TMPDIR, a writer's `.OUT.<pid>.<hex>.tmp`) is removed by the next run,
and a live process's never is, with real processes, real kill -9 and SIGSTOP to hold a writer mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from offline_ner.bundle import TrustStore, generate_key
from tests.bundle.processes import REPO, HeldFifo, held_bundle, offline_ner
from tests.bundle.simulator import BundleSimulator, fixed_key

PASSPHRASE = "correct horse battery staple"  # the env fixture's OFFLINE_NER_KEY_PASSPHRASE


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    # real subprocesses: the whole environment, this checkout importable, a private TMPDIR to look into
    (tmp_path / "tmp").mkdir()
    return {**os.environ, **env, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path / "tmp")}


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(step)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offline_ner", *args, "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped: its pid is free again


@pytest.mark.usefixtures("trust")
def test_a_killed_verification_leaves_staging_that_the_next_removes_but_a_live_ones_is_kept(
    sim: BundleSimulator, tmp_path: Path, env: dict[str, str]
) -> None:
    tmpdir = tmp_path / "tmp"
    bundle = held_bundle(sim, "conll-llm", 1)

    def staging() -> set[str]:
        return {p.name for p in tmpdir.iterdir() if p.name.startswith(".verify-")}

    killed_fifo = HeldFifo(tmp_path / "killed.fifo", bundle.read_bytes())
    killed = offline_ner(env, "bundle", "verify", str(killed_fifo.path))
    assert killed_fifo.reading.wait(30), "the verification never started reading"
    _wait_for(lambda: any((tmpdir / name / "payload").is_dir() for name in staging()), "payload is staged")
    leftover = staging()
    _kill(killed)
    killed_fifo.release.set()
    assert staging() == leftover, "kill -9 leaves the staging folder (unverified payload) behind"

    live_fifo = HeldFifo(tmp_path / "live.fifo", bundle.read_bytes())
    live = offline_ner(env, "bundle", "verify", str(live_fifo.path))
    assert live_fifo.reading.wait(30), "the live verification never started reading"
    _wait_for(lambda: staging() - leftover, "the live verification stages")
    live_staging = staging() - leftover

    after = _run(env, "bundle", "verify", str(bundle))
    assert after.returncode == 0, after.stderr
    assert staging() == live_staging, "the dead one's folder went, the live one's stayed"

    live_fifo.release.set()
    _, err = live.communicate(timeout=60)
    assert live.returncode == 0, err
    assert staging() == set()


def test_a_killed_writer_leaves_a_temp_file_that_the_next_write_removes_but_a_live_ones_is_kept(
    tmp_path: Path, env: dict[str, str]
) -> None:
    key = generate_key(tmp_path / "keys", passphrase=PASSPHRASE.encode(), name="release").private_path
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    with open(model / "model.safetensors", "wb") as weights:
        weights.truncate(96 << 20)  # sparse: cheap to make, but its copy takes the writer a while
    out = tmp_path / "out" / "model.bundle"
    out.parent.mkdir()
    create = ["bundle", "create", str(model), "--kind", "model", "--stream", "m", "--sequence", "1",
              "--key", str(key), "--created", "2026-01-01T00:00:00Z", "-o", str(out)]

    def temps() -> set[str]:
        return {p.name for p in out.parent.glob(".model.bundle.*.tmp")}

    writer = offline_ner(env, *create)
    _wait_for(lambda: temps() or writer.poll() is not None, "the writer opens its temp file", step=0.001)
    writer.send_signal(signal.SIGSTOP)  # held mid-write: alive, its temp file in place
    live = temps()
    assert live and writer.poll() is None, "the writer finished before it could be held; make the weights larger"

    second = _run(env, *create)
    assert second.returncode == 0, second.stderr
    assert temps() == live, "a live (stopped) writer's temp file is never removed"

    _kill(writer)
    assert temps() == live, "kill -9 leaves the temp file behind"
    third = _run(env, *create)
    assert third.returncode == 0, third.stderr
    assert temps() == set(), "the next write of the same file removes the dead writer's temp file"
    assert out.read_bytes()[:18] == b"offline-ner-bundle"


_HALF_SAVE = """
import sys
from offline_ner._fs import atomic_writer
with atomic_writer(sys.argv[1], "w") as handle:  # a save of the trust store, held half-written
    handle.write('{"half": ')
    handle.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    raise SystemExit(3)  # never completes: the temp file goes, trust.json stays as it was
"""


def test_a_trust_store_change_removes_a_killed_savers_temp_file_but_never_a_live_ones(
    trust: TrustStore, tmp_path: Path, env: dict[str, str]
) -> None:
    assert trust.path is not None
    temps: list[set[str]] = []
    savers = []
    for _ in range(2):
        before = {p.name for p in tmp_path.glob(".trust.json.*.tmp")}
        saver = subprocess.Popen(
            [sys.executable, "-c", _HALF_SAVE, str(trust.path)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert saver.stdout is not None and saver.stdout.readline() == "ready\n"
        temps.append({p.name for p in tmp_path.glob(".trust.json.*.tmp")} - before)
        savers.append(saver)
    killed, live = savers
    _kill(killed)

    pem = tmp_path / "carol.pub.pem"
    pem.write_bytes(
        fixed_key(3).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    added = _run(env, "trust", "add", str(pem), "--role", "annotator")
    assert added.returncode == 0, added.stderr
    remaining = {p.name for p in tmp_path.glob(".trust.json.*.tmp")}
    assert temps[1] <= remaining, "the live saver's temp file was removed under it"
    assert not temps[0] & remaining, "the killed saver's temp file was left"
    assert len(json.loads(trust.path.read_text())["keys"]) == 3

    live.communicate("go\n", timeout=30)
    assert live.returncode == 3
    assert not list(tmp_path.glob(".trust.json.*.tmp"))
