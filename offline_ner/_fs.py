"""Crash-safe file writing: a reader sees either the old file or the complete new one, never half of it.

``-`` means stdout, and devices, FIFOs and links are written through, never replaced (``-o /dev/stdout`` as root
must not turn /dev/stdout into a file). Also the one way to hash a file, so every stage's digests (manifests,
provenance) agree byte for byte.

Temp files and folders are *owned*: their name carries the creating process's id and the process holds a lock
on them while it lives, so what a killed process left (``.OUT.<pid>.<hex>.tmp``, a ``.verify-<pid>.<hex>``
staging folder) is told apart from a live process's and removed by the next run (:func:`remove_dead_leftovers`).

Example::

    with atomic_writer(out_path, "w") as handle:
        handle.write(text)
    digest = sha256_file(out_path)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from offline_ner.errors import DataError


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/offline_ner`` (``~/.cache/offline_ner``): where what can be rebuilt is kept between runs
    (the annotator's exported encoder graph, the text tokenizer's rule tables)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "offline_ner"


def fsync_dir(directory: Path) -> None:
    """Persist a rename: the directory entry itself must reach the disk too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], mode: str = "w", *, encoding: str = "utf-8", permissions: int | None = None
) -> Iterator[IO[Any]]:
    """Write to a temp file beside ``path``, fsync it, then rename over ``path``.

    ``permissions``: the new file's mode bits (keys: 0600); by default they follow the umask, as ``open`` would
    create the file (0644 under umask 022), also when an existing file is replaced. The temp file stays 0600
    until it is complete.

    On any exception the temp file is removed and ``path`` is left untouched. ``-`` means stdout. A target that
    exists but is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is written straight through, since a
    rename would replace the device or link with a file; a symlink to a regular file stays a link (its target is
    replaced). A folder is refused (DataError naming it: ``-o`` given an existing folder).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer mode must be 'w' or 'wb', not {mode!r}")
    if os.fspath(path) == "-":
        stream = sys.stdout.buffer if mode == "wb" else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    try:
        kind = os.stat(target).st_mode  # follows links: what a write would reach
    except FileNotFoundError:
        kind = stat.S_IFREG
    if stat.S_ISDIR(kind):
        raise DataError("is a folder; expected a file to write", path=target)
    if not stat.S_ISREG(kind):
        with open(target, mode, **_text_args(mode, encoding)) as handle:
            yield handle
        return
    target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_leftovers(target.parent, f".{target.name}.", ".tmp")
    fd, tmp_name = make_owned(target.parent, f".{target.name}.", ".tmp")
    try:
        with os.fdopen(fd, mode, **_text_args(mode, encoding)) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _default_mode() if permissions is None else permissions)
            os.fsync(handle.fileno())
            os.replace(tmp_name, target)  # still open, so still locked: never a dead owner's leftover
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def make_owned(directory: Path, prefix: str, suffix: str = "", *, folder: bool = False) -> tuple[int, str]:
    """Create ``<prefix><pid>.<8 hex><suffix>`` in ``directory`` (a 0600 file, or a 0700 folder), locked by this
    process until the returned descriptor is closed; return the descriptor and the path."""
    while True:
        path = os.path.join(directory, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{suffix}")
        try:
            if folder:
                os.mkdir(path, 0o700)
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            else:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new name: nobody else can hold it
        return fd, path


def remove_dead_leftovers(directory: Path, prefix: str, suffix: str = "") -> list[Path]:
    """Remove what killed processes left in ``directory`` under names :func:`make_owned` gives.

    An entry goes only when its owner is gone twice over: no process has its pid and nobody holds its lock (the
    lock also covers an owner in another pid namespace sharing the folder). A live process's entry, another
    naming's file or a link is never touched. Returns what was removed.
    """
    pattern = re.compile(re.escape(prefix) + r"(\d{1,10})\.[0-9a-f]{8}" + re.escape(suffix))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or entry.is_symlink() or _alive(int(match[1])):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # BlockingIOError: held, so its owner lives; or it went meanwhile
            continue
        finally:
            os.close(fd)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _default_mode() -> int:
    """0666 less the umask: the mode ``open(path, "w")`` gives a new file. Read from /proc where it is shown,
    since setting the umask to read it races with threads that create files meanwhile."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o077)
        os.umask(umask)
    return 0o666 & ~umask


def _text_args(mode: str, encoding: str) -> dict[str, Any]:
    return {} if mode == "wb" else {"encoding": encoding, "newline": "\n"}


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks so memory stays flat on multi-GB files."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
