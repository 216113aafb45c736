"""UTF-8 line files read the same way by every reader (CoNLL, JSONL, label imports).

A byte-order mark at the start of a file is dropped (Windows tools write one; kept, it became part of the first
token and hid a ``-DOCSTART-`` line), invalid UTF-8 and JSON nested too deeply are a :class:`DataError` naming the
file and line, and input quoted in a message is cut to a short excerpt: one bad 10 MB line must not become a
10 MB error message.

``-`` is standard input everywhere a path is read (:func:`open_input`). Its first bytes can be looked at before
the reader starts (:func:`peek_input`, for format detection) without losing them, so a pipe is read once and
streamed, never buffered whole.

Example::

    for line_no, line in iter_utf8_lines(path):
        obj = loads_json_line(line, path=path, line=line_no)
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import IO, Any

from offline_ner.errors import DataError

BOM = "\ufeff"
EXCERPT_CHARS = 80
STDIN = "-"
STDIN_NAME = "stdin"  # stands for the file stem of standard input in record ids (``stdin:3``)
_stdin_head = b""  # bytes peek_input took from standard input and open_input gives back first


def is_stdin(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path) == STDIN


def input_stem(path: str | os.PathLike[str]) -> str:
    """The stem record ids are built from: the file name without suffix, ``stdin`` for ``-``."""
    return STDIN_NAME if is_stdin(path) else os.path.splitext(os.path.basename(os.fspath(path)))[0]


def _stdin_bytes() -> IO[bytes]:
    stream: Any = sys.stdin
    return stream.buffer if hasattr(stream, "buffer") else stream


def peek_input(path: str | os.PathLike[str], size: int = 64 * 1024) -> bytes:
    """Up to ``size`` first bytes of a file or of standard input, which stay readable by :func:`open_input`."""
    global _stdin_head
    if not is_stdin(path):
        with open(path, "rb") as handle:
            return handle.read(size)
    stream = _stdin_bytes()
    read = getattr(stream, "read1", stream.read)
    while len(_stdin_head) < size:
        chunk = read(size - len(_stdin_head))
        if not chunk:
            break
        _stdin_head += chunk
    return _stdin_head[:size]


class _PrefixedStdin(io.RawIOBase):
    """Standard input with the bytes :func:`peek_input` already took put back in front."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        global _stdin_head
        view = memoryview(buffer).cast("B")
        if _stdin_head:
            count = min(len(view), len(_stdin_head))
            view[:count] = _stdin_head[:count]
            _stdin_head = _stdin_head[count:]
            return count
        stream = _stdin_bytes()
        data = getattr(stream, "read1", stream.read)(len(view))
        view[: len(data)] = data
        return len(data)


def open_input(path: str | os.PathLike[str]) -> IO[bytes]:
    """A binary handle on a file, or on standard input for ``-`` (closing it leaves stdin open)."""
    if is_stdin(path):
        return io.BufferedReader(_PrefixedStdin())
    return open(path, "rb")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``repr(text)``, cut to ``limit`` characters and followed by the full length when longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def iter_utf8_lines(
    path: str | os.PathLike[str], *, bad_lines: list[DataError] | None = None
) -> Iterator[tuple[int, str]]:
    """``(line_no, text)`` per line (1-based, line ending removed, a leading BOM dropped from line 1).

    With ``bad_lines``, a line that is not UTF-8 is appended there as its DataError and reading goes on (an
    import that skips bad rows); without it, the first one is raised.

    Raises:
        DataError: a line is not valid UTF-8 (file and line named).
        OSError: the file cannot be opened (callers turn a missing file into their own DataError).
    """
    with open_input(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                error = DataError(
                    f"not valid UTF-8 at byte {err.start} of the line; re-encode the file as UTF-8",
                    path=path,
                    line=line_no,
                )
                if bad_lines is None:
                    raise error from err
                bad_lines.append(error)
                continue
            yield line_no, (text.removeprefix(BOM) if line_no == 1 else text).rstrip("\r\n")


def loads_json_line(text: str, **where: Any) -> Any:
    """One JSON value; ``where`` (path, line) names the place in errors.

    Raises:
        DataError: invalid JSON, nesting deeper than Python's parser can follow (never RecursionError), or a
            lone surrogate escape (``"\\ud800"``), which no UTF-8 writer downstream could write.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON ({err.msg} at column {err.colno})", **where) from err
    except RecursionError as err:
        raise DataError("JSON nested too deeply", **where) from err
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise DataError("a string holds a lone surrogate escape (\\ud800-\\udfff), which is not text UTF-8 can "
                        "write", **where)
    return value


# "\ud800" .. "\udfff" escapes: only a line holding one can decode to a lone surrogate (a pair is one character)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
