"""Selection filters over aligned LLM labels: k-of-n sample agreement. Pure, no I/O.

With n samples per sentence (temperature > 0 or repeated calls), an entity is kept when at least k samples
produced the same span with the same type. Kept spans that still overlap are resolved like ``align``: more
votes first, then longer, then earlier.

Example::

    agree_spans([[Span(0, 2, "PER")], [Span(0, 2, "PER")], [Span(0, 1, "PER")]], k=2)
    # ([Span(0, 2, 'PER')], 2)   -> one kept of two distinct spans proposed
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from offline_ner.data import Span


def agree_spans(samples: Sequence[Sequence[Span]], k: int) -> tuple[list[Span], int]:
    """Spans that at least ``k`` samples agree on (non-overlapping), and how many distinct spans were proposed."""
    if k < 1 or k > len(samples):
        raise ValueError(f"agree_k={k} must be between 1 and the number of samples ({len(samples)})")
    votes = Counter(span for sample in samples for span in set(sample))
    kept: list[Span] = []
    taken: set[int] = set()
    for span, count in sorted(votes.items(), key=lambda item: (-item[1], -(item[0].end - item[0].start), item[0])):
        cells = set(range(span.start, span.end))
        if count >= k and not cells & taken:
            kept.append(span)
            taken |= cells
    return sorted(kept), len(votes)
