"""The bundle's container: a deterministic tar writer and a strict streaming reader that knows only that form.

The writer emits POSIX (pax) tar members as Python's tarfile writes them: regular files, mode 0644, uid/gid 0,
empty owner names, a fixed mtime, and a pax ``x`` header only when a name is too long or not ASCII for ustar, or a
size is 8 GiB or more (wheel names reach 130 bytes; model shards pass 8 GiB). Then two zero blocks and no record
padding, so identical input gives identical bytes. The reader accepts exactly that, byte for byte: each header
(and pax header) must equal what the writer produces for the member's name, size and mtime, a pax header may hold
only ``path`` and ``size`` records and must precede a regular file, padding must be zeros and nothing may follow
the end marker. So a valid bundle has one byte form and any changed byte is caught. Every other member type
(symlink, hardlink, device, fifo, folder, pax global or GNU long-name headers) is an UnsafePathError, because each
has been used to make extractors write outside their target. Data is read in 1 MiB chunks, never whole, except
through :meth:`TarReader.read_capped`. This module knows nothing about manifests or signatures.

Example::

    reader = TarReader(handle)
    member = reader.next_member()          # None at the end-of-archive marker
    data = reader.read_capped(member, max_bytes=1 << 20)
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from offline_ner.errors import BundleError, ExtraFileError, UnsafePathError

BLOCK = 512
CHUNK = 1 << 20
MAX_PAX_BYTES = 4096  # a path record of at most 1024 bytes and a size record fit many times over
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_PAX_KEYS = ("path", "size")
_TYPE_NAMES = {
    b"1": "hard link",
    b"2": "symbolic link",
    b"3": "character device",
    b"4": "block device",
    b"5": "folder",
    b"6": "fifo",
    b"7": "contiguous file",
    b"x": "pax extended header",
    b"g": "pax global header",
    b"L": "GNU long name",
    b"K": "GNU long link name",
}


class TruncatedError(BundleError):
    """The archive ends inside a header or a member's data (internal: callers report it per file)."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    offset: int  # of the (first) header block in the archive
    mtime: int  # must be the manifest's ``created``: the reader knows no manifest, the verifier checks it


def member_header(name: str, size: int, mtime: float) -> bytes:
    """The header block(s) of a regular file: one ustar block, or a pax header plus one."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _check_nul(raw: bytes, what: str) -> bytes:
    text, _, rest = raw.partition(b"\0")
    if rest.strip(b"\0"):
        # bytes after a NUL: tools disagree on where the name ends ("a\0../../x"), so refuse it
        raise UnsafePathError(f"{what} contains a NUL byte")
    return text


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnsafePathError(f"{what} is not valid UTF-8") from err


def _header_info(block: bytes, offset: int) -> tarfile.TarInfo:
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as err:
        raise BundleError(f"tar header at byte {offset} is invalid: {err}") from err


def parse_pax(data: bytes, offset: int) -> dict[str, str]:
    """The records of a pax extended header; only one ``path`` and one ``size`` are allowed.

    Raises:
        BundleError: a malformed record.
        UnsafePathError: any other key (linkpath, uid, ...) or a value that is not UTF-8.
    """
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        length_text = data[pos:space] if space > pos else b""
        if not length_text.isdigit():
            raise BundleError(f"pax header at byte {offset} has a malformed record")
        end = pos + int(length_text)
        key, eq, value = data[space + 1 : end - 1].partition(b"=")
        if end <= space + 1 or end > len(data) or data[end - 1 : end] != b"\n" or not eq:
            raise BundleError(f"pax header at byte {offset} has a malformed record")
        name = _decode(key, f"pax record key at byte {offset}")
        if name not in _PAX_KEYS or name in records:
            raise UnsafePathError(f"pax header at byte {offset} sets {name!r}; only one path and size are allowed")
        records[name] = _decode(value, f"pax {name} at byte {offset}")
        pos = end
    return records


def parse_header(block: bytes, offset: int, pax: dict[str, str] | None = None, extended: bytes = b"") -> Member:
    """Parse and check a regular file's header block (and the pax header before it, if any).

    Args:
        block: the 512-byte header block.
        offset: where the member starts in the archive (for messages).
        pax: the records of a preceding pax header; ``extended`` its raw header, data and padding.

    Raises:
        UnsafePathError: a name with NUL or invalid UTF-8, or any member type other than a regular file.
        BundleError: a bad checksum or number field, not POSIX tar, or not in canonical form.
    """
    name = _check_nul(block[0:100], f"member name at byte {offset}")
    prefix = _check_nul(block[345:500], f"member name prefix at byte {offset}")
    if pax and "path" in pax:
        full = pax["path"]
    else:
        full = _decode(prefix + b"/" + name if prefix else name, f"member name at byte {offset}")
    info = _header_info(block, offset)
    typeflag = block[156:157]
    if typeflag not in (b"0", b"\0"):
        kind = _TYPE_NAMES.get(typeflag, f"type {typeflag!r}")
        raise UnsafePathError(f"member {full!r} is a {kind}; bundles hold regular files only")
    size = info.size
    if pax and "size" in pax:
        if not pax["size"].isdigit():
            raise BundleError(f"pax size {pax['size']!r} at byte {offset} is not a number")
        size = int(pax["size"])
    if full.endswith("/") or size < 0:
        raise UnsafePathError(f"member {full!r} is a folder; bundles hold regular files only")
    if block[257:265] != b"ustar\x0000":
        raise BundleError(f"tar header at byte {offset} is not a POSIX tar header")
    if member_header(full, size, info.mtime) != extended + block:
        # one byte form per header (mode, owner, padding): nothing can hide in fields the reader ignores
        raise BundleError(f"tar header of {full!r} at byte {offset} is not in the bundle's canonical form")
    return Member(name=full, size=size, offset=offset, mtime=int(info.mtime))


class TarReader:
    """Walk a bundle's members in order, reading each member's data at most once."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._offset = 0
        self._unread = 0  # data bytes of the current member not yet consumed
        self._padding = 0  # then this many zero bytes up to the next 512-byte block

    def _read_exact(self, size: int) -> bytes:
        data = self._handle.read(size)
        self._offset += len(data)
        if len(data) != size:
            raise TruncatedError(f"the bundle ends early at byte {self._offset} (truncated)")
        return data

    def _read_padding(self, count: int) -> bytes:
        pad = self._read_exact(count)
        if pad.strip(b"\0"):
            raise BundleError(f"non-zero padding before byte {self._offset}: data hidden between members")
        return pad

    def next_member(self) -> Member | None:
        """The next member's header, skipping unread data of the previous one; None at the end marker.

        Raises:
            TruncatedError: the archive ends before a header or the end marker.
            ExtraFileError: anything after the end marker (data smuggled past it).
            BundleError, UnsafePathError: from :func:`parse_header` and :func:`parse_pax`.
        """
        self.skip()
        offset = self._offset
        block = self._read_exact(BLOCK)
        if block == b"\0" * BLOCK:
            if self._read_exact(BLOCK) != b"\0" * BLOCK:
                raise BundleError(f"tar end-of-archive marker at byte {offset} is damaged")
            if self._handle.read(1):
                raise ExtraFileError(f"data follows the end-of-archive marker at byte {self._offset}")
            return None
        pax, extended = None, b""
        if block[156:157] == b"x":
            size = _header_info(block, offset).size
            if size > MAX_PAX_BYTES:
                raise UnsafePathError(f"pax header at byte {offset} declares {size} bytes; at most {MAX_PAX_BYTES}")
            data = self._read_exact(size)
            extended = block + data + self._read_padding(len(padding(size)))
            pax = parse_pax(data, offset)
            block = self._read_exact(BLOCK)
        member = parse_header(block, offset, pax, extended)
        self._unread, self._padding = member.size, len(padding(member.size))
        return member

    def skip(self) -> None:
        """Consume the rest of the current member without writing it anywhere; its padding must be zeros."""
        while self._unread:
            step = min(self._unread, CHUNK)
            self._read_exact(step)
            self._unread -= step
        if self._padding:
            self._read_padding(self._padding)
            self._padding = 0

    def read_capped(self, member: Member, *, max_bytes: int) -> bytes:
        """A small member's whole data; the caller checks ``member.size`` against its cap first."""
        if member.size > max_bytes:
            raise ValueError("caller must check the size cap before read_capped")
        data = self._read_exact(member.size)
        self._unread -= member.size
        return data

    def copy(self, member: Member, limit: int, sink: Callable[[bytes], object]) -> hashlib._Hash:
        """Feed up to ``limit`` data bytes of ``member`` to ``sink`` in chunks; return their sha256.

        Raises:
            TruncatedError: the archive ends inside the member's data.
        """
        digest = hashlib.sha256()
        remaining = min(member.size, limit)
        while remaining:
            chunk = self._read_exact(min(remaining, CHUNK))
            digest.update(chunk)
            sink(chunk)
            remaining -= len(chunk)
            self._unread -= len(chunk)
        return digest
