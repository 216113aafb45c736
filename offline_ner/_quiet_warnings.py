"""Third-party noise turned into our own one-line notes on stderr.

Libraries warn about things that are expected in this package's use of them: transformers says a new classifier
head "should probably be TRAINed" (we are about to), torch's ONNX tracer warns about Python branches on shapes
(every exported graph is validated against PyTorch anyway), onnxruntime asks for "pre-processing before
quantization" (measured unnecessary for BERT's dynamic int8). Their multi-line messages hide the lines that matter,
so inside these context managers matching messages are swallowed and one ``note: ...`` line says what happened.
Nothing heavy is imported here.

Example::

    with notes_for_log("transformers.modeling_utils", "Some weights of", "new classifier head"):
        model = AutoModelForTokenClassification.from_pretrained(...)
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

NOTE_PREFIX = "note: "


def note(message: str) -> None:
    """One line on stderr, prefixed so logs can be searched for our notes."""
    print(NOTE_PREFIX + message, file=sys.stderr, flush=True)


class _Swallow(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment, self.count = fragment, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.fragment in record.getMessage():
            self.count += 1
            return False
        return True


@contextlib.contextmanager
def notes_for_log(logger_name: str | None, fragment: str, message: str) -> Iterator[None]:
    """Drop records of ``logger_name`` (None: the root logger) that contain ``fragment``; note ``message`` once."""
    logger = logging.getLogger(logger_name)
    swallow = _Swallow(fragment)
    logger.addFilter(swallow)
    try:
        yield
    finally:
        logger.removeFilter(swallow)
        if swallow.count:
            note(message)


@contextlib.contextmanager
def notes_for_warnings(category: type[Warning], message: str) -> Iterator[None]:
    """Hide warnings of ``category`` shown inside; note ``message`` (with their count) once.

    The warning filters stay as they are (a library's own "ignore" and "once per place" rules still apply); only
    the showing is replaced, and nothing is kept but a count, so a warning raised in a hot loop costs no memory.
    """
    hidden = 0
    hidden_category = category
    with warnings.catch_warnings():
        show = warnings.showwarning

        # the parameters keep warnings.showwarning's names, so the two are interchangeable to type checkers
        def count_or_show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                          file: TextIO | None = None, line: str | None = None) -> None:
            nonlocal hidden
            if issubclass(category, hidden_category):
                hidden += 1
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = count_or_show
        yield
    if hidden:
        note(f"{message} ({hidden} {category.__name__}s hidden)")
