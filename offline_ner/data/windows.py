"""Split a sentence too long for the model into overlapping windows, and say which window owns each word.

Pure (numpy only). A word is tagged by exactly one window, the one in which it sits farthest from an edge
(the overlap is cut at its midpoint), so after merging every word has one tag: an entity that crosses a window
boundary is decoded once from the merged tags, never lost at a cut and never reported twice.

The window and overlap that scoring uses are defined here, once: the ONNX engine (``predict``, ``evaluate`` of an
export) and PyTorch scoring (``evaluate`` of a trained folder, dev scoring while training) both read them, so the
same model gives the same tags either way. Training itself cuts its own (shorter, non-overlapping) windows.

Example::

    plan_windows([1, 3, 2, 2, 1], max_tokens=5, overlap_tokens=2)
    # [Window(start=0, end=2, own_start=0, own_end=2), Window(start=2, end=5, own_start=2, own_end=5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# subword tokens per scoring window, [CLS]/[SEP] included: attention is quadratic, and 99.9% of news sentences fit
WINDOW_TOKENS = 256
# subword tokens shared by consecutive windows of a longer sentence: each word keeps >= 32 tokens of context
OVERLAP_TOKENS = 64


class Window(NamedTuple):
    """Words ``[start, end)`` go into the model; words ``[own_start, own_end)`` take their tags from it."""

    start: int
    end: int
    own_start: int
    own_end: int


def plan_windows(word_tokens: Sequence[int] | np.ndarray, max_tokens: int, overlap_tokens: int) -> list[Window]:
    """Cover the words with windows of at most ``max_tokens`` subword tokens, consecutive ones sharing about
    ``overlap_tokens``; a word longer than ``max_tokens`` must have been clipped by the caller.

    Raises:
        ValueError: a word exceeds ``max_tokens``, or ``overlap_tokens`` is not smaller than ``max_tokens``.
    """
    counts = np.asarray(word_tokens, dtype=np.int64)
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in [0, {max_tokens}), got {overlap_tokens}")
    if counts.size and counts.max() > max_tokens:
        raise ValueError(f"a word has {counts.max()} tokens, more than a window's {max_tokens}; clip it first")
    n_words = int(counts.size)
    cum = np.concatenate(([0], np.cumsum(counts)))
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = int(np.searchsorted(cum, cum[start] + max_tokens, side="right")) - 1
        end = max(end, start + 1) if n_words else 0
        spans.append((start, end))
        if end >= n_words:
            break
        # back off so the next window re-reads about overlap_tokens of context, but always move forward
        back = int(np.searchsorted(cum, cum[end] - overlap_tokens, side="left"))
        start = min(max(back, start + 1), end)
    cuts = [0] + [(spans[k + 1][0] + spans[k][1]) // 2 for k in range(len(spans) - 1)] + [n_words]
    return [Window(s, e, cuts[k], cuts[k + 1]) for k, (s, e) in enumerate(spans)]
