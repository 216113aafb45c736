"""Align an LLM's entity mentions to a record's tokens and produce valid IOB2 tags. Pure, no I/O.

LLMs miscount token indices far more often than they misquote text, so each mention is placed by checking
one against the other (spacy-llm matches substrings only and drops what it cannot place, silently):

- indices valid and the text equals those tokens (spaces ignored) → ``exact``;
- indices valid, no text given → ``index_only``;
- text found elsewhere in the tokens → ``recovered`` (the occurrence nearest the stated index; when the text
  occurs more than once that choice is also counted as ``ambiguous``);
- text found only ignoring case (``London`` for the token ``LONDON``) → ``casefold``, or only ignoring case and
  trailing punctuation (``U.S`` for ``U.S.``) → ``punctuation``: the same nearest-occurrence rule, counted apart
  because such a match is looser (in GPT-NER's CoNLL output these two lost 12 entities);
- text not found but indices valid → kept at the indices, counted as ``text_mismatch``;
- neither → ``not_found`` (dropped, counted). Unknown types are ``unknown_type`` (dropped, counted).

Overlaps are resolved deterministically: longer spans first, then earlier start, then reply order; each span
that loses is counted as ``overlap_dropped``; repeats of an accepted span are ``duplicate``. The tags always
have the record's length and are valid IOB2.

Example::

    align_mentions(("EU", "rejects", "German", "call"), [Mention(5, 5, "German", "MISC")], CONLL_TYPES)
    # Alignment(tags=('O', 'O', 'B-MISC', 'O'), counts={'recovered': 1, ...})
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from offline_ner.annotate.parse import Mention
from offline_ner.data import Span, tags_from_spans

COUNT_KEYS = (
    "exact",
    "index_only",
    "recovered",
    "casefold",
    "punctuation",
    "ambiguous",
    "text_mismatch",
    "not_found",
    "unknown_type",
    "duplicate",
    "overlap_dropped",
    "invalid",
)
# problems: counts that mean the reply and the tokens disagreed somewhere (used by the selection filter)
PROBLEM_KEYS = ("ambiguous", "text_mismatch", "not_found", "unknown_type", "overlap_dropped", "invalid")
# the usual long names of the CoNLL types, as LLMs write them ("Person", "Organisation"); compared upper-cased,
# after the template's own type names, so a template whose types are long names keeps them
TYPE_ALIASES = {
    "PERSON": "PER",
    "PERSONS": "PER",
    "PEOPLE": "PER",
    "LOCATION": "LOC",
    "LOCATIONS": "LOC",
    "GPE": "LOC",
    "ORGANIZATION": "ORG",
    "ORGANIZATIONS": "ORG",
    "ORGANISATION": "ORG",
    "ORGANISATIONS": "ORG",
    "MISCELLANEOUS": "MISC",
}


@dataclass(frozen=True)
class Alignment:
    """IOB2 tags for one record and how each mention was placed or why it was not."""

    tags: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return sum(self.counts.get(key, 0) for key in PROBLEM_KEYS)


def _squash(text: str) -> str:
    return "".join(text.split())


def _casefold(text: str) -> str:
    return _squash(text).casefold()


def _trimmed(text: str) -> str:
    return _casefold(text).rstrip(string.punctuation)


# the text comparisons tried in turn, strictest first, with the count each success goes to
MATCHERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("recovered", _squash),
    ("casefold", _casefold),
    ("punctuation", _trimmed),
)


def _occurrences(tokens: Sequence[str], text: str, norm: Callable[[str], str] = _squash) -> list[tuple[int, int]]:
    """Token spans ``[start, end)`` whose tokens, joined and normalised by ``norm``, equal ``norm(text)``."""
    target = norm(text)
    found: list[tuple[int, int]] = []
    if not target:
        return found
    for start in range(len(tokens)):
        joined = ""
        for end in range(start, len(tokens)):
            joined += tokens[end]
            normed = norm(joined)
            if normed == target:
                found.append((start, end + 1))
                break
            if not target.startswith(normed):
                break
    return found


def normalise_type(label: str, types: Sequence[str]) -> str | None:
    """The entity type a label names (``person`` → ``PER``), or None if it is not one of ``types``."""
    upper = label.strip().upper()
    if upper[:2] in ("B-", "I-"):
        upper = upper[2:]
    if upper not in types:
        upper = TYPE_ALIASES.get(upper, upper)
    return upper if upper in types else None


def _place(tokens: Sequence[str], mention: Mention, counts: Counter[str]) -> tuple[int, int] | None:
    first, last = mention.first, mention.last
    by_index = None
    if first is not None and last is not None and 0 <= first <= last < len(tokens):
        by_index = (first, last + 1)
    if mention.text is None:
        if by_index is not None:
            counts["index_only"] += 1
        else:
            counts["not_found"] += 1
        return by_index
    if by_index is not None and _squash("".join(tokens[by_index[0] : by_index[1]])) == _squash(mention.text):
        counts["exact"] += 1
        return by_index
    for count_key, norm in MATCHERS:
        places = _occurrences(tokens, mention.text, norm)
        if places:
            anchor = first if first is not None else 0
            counts[count_key] += 1
            if len(places) > 1:
                counts["ambiguous"] += 1
            return min(places, key=lambda p: (abs(p[0] - anchor), p[0]))
    if by_index is not None:
        counts["text_mismatch"] += 1
        return by_index
    counts["not_found"] += 1
    return None


def align_mentions(
    tokens: Sequence[str], mentions: Iterable[Mention], types: Sequence[str], *, invalid: int = 0
) -> Alignment:
    """Place each mention on the tokens and resolve overlaps; see the module docstring for the rules.

    Args:
        tokens: the record's tokens.
        mentions: the parsed reply's mentions, in reply order.
        types: allowed entity types (others are counted as ``unknown_type``).
        invalid: unusable items the parser already counted, carried into the counts.

    Returns:
        Valid IOB2 tags of ``len(tokens)`` and the counts (every key of COUNT_KEYS present).
    """
    counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
    counts["invalid"] += invalid
    candidates: list[tuple[int, int, str, int]] = []
    for order, mention in enumerate(mentions):
        label = normalise_type(mention.type, types)
        if label is None:
            counts["unknown_type"] += 1
            continue
        place = _place(tokens, mention, counts)
        if place is not None:
            candidates.append((place[0], place[1], label, order))
    accepted: list[Span] = []
    taken = [False] * len(tokens)
    for start, end, label, _ in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0], c[3])):
        if Span(start, end, label) in accepted:
            counts["duplicate"] += 1
        elif any(taken[start:end]):
            counts["overlap_dropped"] += 1
        else:
            accepted.append(Span(start, end, label))
            taken[start:end] = [True] * (end - start)
    return Alignment(tags=tags_from_spans(accepted, len(tokens)), counts=dict(counts))
