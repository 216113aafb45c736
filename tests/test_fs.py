"""The atomic writer: old or new file, never half; and never a rename over something that is not a regular file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from offline_ner._fs import atomic_write_text, atomic_writer
from offline_ner.errors import DataError


def test_an_exception_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_dash_writes_to_stdout_and_creates_no_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write_text("-", "to stdout\n")
    assert capfd.readouterr().out == "to stdout\n"
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_target_stays_a_link_and_its_file_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    # the same case as '-o /dev/stdout' when stdout is a pipe: renaming over it destroyed the link as root
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    atomic_write_text(fifo, "through the pipe\n")
    reader.join(10)
    assert received == ["through the pipe\n"]
    assert fifo.is_fifo()


def test_a_folder_target_is_refused_as_bad_input_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{tmp_path}: is a folder"):
        atomic_write_text(tmp_path, "x")
