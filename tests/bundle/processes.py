"""Real `offline-ner` processes for the race and crash tests: a FIFO that holds one mid-verify, and the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.bundle.simulator import BundleSimulator

REPO = Path(__file__).resolve().parents[2]


def held_bundle(sim: BundleSimulator, stream: str, sequence: int) -> Path:
    """A valid bundle large enough that a :class:`HeldFifo` feeding it stalls mid-verify."""
    sim.fields.update(stream=stream, sequence=sequence)
    sim.files["qa.json"] = json.dumps({"note": "x" * 300_000}).encode()  # several pipe buffers: the feeder can stall
    return sim.write(name=f"{stream}-{sequence}.bundle")


class HeldFifo:
    """A FIFO that feeds a bundle's first half, then stalls until released (the reader is then mid-verify)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data = path, data
        os.mkfifo(path)
        self.reading = threading.Event()  # the reader has consumed bytes: it holds its locks
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        with contextlib.suppress(BrokenPipeError), open(self.path, "wb") as pipe:  # broken: the reader was killed
            half = len(self.data) // 2
            pipe.write(self.data[:half])  # returns once the reader has taken all but a pipe buffer of it
            pipe.flush()
            self.reading.set()
            self.release.wait(60)
            pipe.write(self.data[half:])


def offline_ner(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start ``offline-ner ARGS --json`` as a real process."""
    return subprocess.Popen(
        [sys.executable, "-m", "offline_ner", *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
