"""Turn an LLM's reply text into entity mentions, whatever shape the reply came in. Pure, no I/O.

The fallback chain, first success wins, and the mode that succeeded is recorded in provenance:

1. ``json``: the whole reply is a JSON document (what strict ``json_schema`` and ``json_object`` modes give);
2. ``python``: the whole reply is a Python literal (``{'Nadim Ladki': 'Person'}``: GPT-3.5 without a response
   format), read with ``ast.literal_eval``, which evaluates literals only and never runs code;
3. ``extracted``: a JSON document or Python literal inside prose or a Markdown code fence (endpoints that ignore
   ``response_format``);
4. ``repaired``: a JSON document cut off mid-way (``max_tokens`` hit) is closed where it was cut, or else after
   its last complete element.

A reply is *cut off* when the endpoint says so (``finish_reason`` ``"length"``) or when its JSON breaks off
before the first entity: :func:`parse_complete_reply` refuses both (:class:`CutOffReplyError`), because a cut-off
reply read as "no entities" would teach the model that the sentence has none. The run re-asks such a request once
with a larger ``max_tokens`` and otherwise lists the record as failed.

Accepted shapes (JSON or Python literal): ``{"entities": [...]}``, a bare list of entities, ``{"PER": ["Anne Murray"], ...}`` (types as
keys), ``{"Kobe Bryant": "PER", ...}`` (spans as keys, what gpt-3.5 returned in Self-Improve), one lone entity
object, and ``{}`` (gpt-3.5's way of saying "no entities": zero entities, not a failure). Type names are kept as
written (``Person``); alignment maps them to the template's types (``align.TYPE_ALIASES``). An entity is an object
with ``type`` (or ``label``), ``first``/``last`` token indices (inclusive) and/or ``text``. Items that are not
usable entities are counted as ``invalid``, never silently dropped. Anything else raises LLMReplyError.

Example::

    reply = parse_reply('Sure! ```json\\n{"entities": [{"first": 0, "last": 0, "text": "EU", "type": "ORG"}]}\\n```')
    reply.mode        # 'extracted'
    reply.entities    # (Mention(first=0, last=0, text='EU', type='ORG'),)
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from offline_ner.errors import LLMReplyError

MAX_SCAN_STARTS = 64  # JSON starts tried inside prose: bounds the work on a long, hostile reply
MAX_REPAIR_CUTS = 256  # cut points tried when closing truncated JSON
ENTITY_KEYS = frozenset({"type", "label", "entity_type", "text", "entity", "span", "first", "last", "start"})
FENCE = re.compile(r"```(?:json|JSON|python|py)?\s*\n?(.*?)```", re.DOTALL)
MAX_LITERAL_CHARS = 32_000  # ~8k tokens; longer text is not read as a Python literal (bounds ast.parse's work)
CUT_OFF_FINISH_REASON = "length"  # the OpenAI API's finish_reason when max_tokens ended the reply
# what ast.literal_eval raises on text that is not one literal (3.11: null bytes are a ValueError, 3.12 a SyntaxError)
LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Mention:
    """One entity as the model stated it; indices are inclusive and may be wrong, text may be absent."""

    first: int | None
    last: int | None
    text: str | None
    type: str


@dataclass(frozen=True)
class ParsedReply:
    """Mentions in reply order, how the reply was read, and how many items were unusable."""

    entities: tuple[Mention, ...]
    mode: str
    invalid: int = 0


class CutOffReplyError(LLMReplyError):
    """The reply was cut off (``max_tokens`` reached, or JSON broken off before its first entity)."""


def _as_index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _mention(item: Any) -> Mention | None:
    if not isinstance(item, dict):
        return None
    label = item.get("type", item.get("label", item.get("entity_type")))
    text = item.get("text", item.get("entity", item.get("span")))
    first = _as_index(item.get("first", item.get("start")))
    last = _as_index(item.get("last", first))
    if not isinstance(label, str) or not label.strip():
        return None
    if not isinstance(text, str) or not text.strip():
        text = None
    if text is None and (first is None or last is None):
        return None
    return Mention(first=first, last=last, text=text, type=label.strip())


def _mentions(document: Any, *, whole: bool = True) -> tuple[tuple[Mention, ...], int] | None:
    """Mentions and the invalid count from a decoded document, or None when it is not an answer shape.

    A lone entity object counts only as the whole reply: inside prose or cut-off JSON it is one element of a
    larger answer, and taking it alone would lose the rest.
    """
    if isinstance(document, dict) and isinstance(document.get("entities"), list):
        items: list[Any] = document["entities"]
    elif isinstance(document, dict) and not document:
        return (), 0  # {}: the model found nothing
    elif whole and isinstance(document, dict) and _mention(document) is not None:
        items = [document]  # one lone entity object
    elif isinstance(document, list) and (not document or any(isinstance(item, dict) for item in document)):
        items = document
    elif (
        isinstance(document, dict)
        and document
        and all(isinstance(v, list) and all(isinstance(x, (str, dict)) for x in v) for v in document.values())
    ):
        # {"PER": ["Anne Murray"], "LOC": []}: types as keys, surface texts as values
        items = [{"type": k, "text": v} if isinstance(v, str) else v for k, vs in document.items() for v in vs]
    elif (
        isinstance(document, dict)
        and all(isinstance(v, str) for v in document.values())
        and not ENTITY_KEYS & set(document)
    ):
        # {"Kobe Bryant": "PER"}: surface texts as keys, types as values
        items = [{"type": v, "text": k} for k, v in document.items()]
    else:
        return None
    mentions = [_mention(item) for item in items]
    return tuple(m for m in mentions if m is not None), sum(m is None for m in mentions)


def _json_prefix_closers(text: str) -> str | None:
    """Brackets that close every container open at the end of ``text``; None if it ends inside a string."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack:
                return None
            stack.pop()
    return None if in_string else "".join(reversed(stack))


def _repair_truncated(text: str) -> Any | None:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    body = text[start:].rstrip()
    cuts = [i + 1 for i, ch in enumerate(body) if ch in "}]"] + [i for i, ch in enumerate(body) if ch == ","]
    if body and not body[-1].isdigit():
        cuts.append(len(body))  # the cut fell after a complete value; a trailing digit may be half a number
    for cut in sorted(set(cuts), reverse=True)[:MAX_REPAIR_CUTS]:
        prefix = body[:cut].rstrip().rstrip(",")
        closers = _json_prefix_closers(prefix)
        if closers is None:
            continue
        try:
            return json.loads(prefix + closers)
        except (json.JSONDecodeError, RecursionError):
            continue
    return None


_NOT_A_LITERAL = object()


def _python_literal(text: str) -> Any:
    """The value of ``text`` as one Python literal (never evaluated as code), or ``_NOT_A_LITERAL``."""
    text = text.strip()
    if not text or len(text) > MAX_LITERAL_CHARS or text[0] not in "{[":
        return _NOT_A_LITERAL
    try:
        return ast.literal_eval(text)
    except LITERAL_ERRORS:
        return _NOT_A_LITERAL


def _literal_end(text: str, start: int) -> int | None:
    """The end of the bracketed Python literal opening at ``start`` (quotes ' and " respected), or None."""
    depth, quote, escaped = 0, "", False
    for index in range(start, min(len(text), start + MAX_LITERAL_CHARS)):
        ch = text[index]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _embedded_documents(text: str) -> list[Any]:
    """JSON values or Python literals found in code fences, then at each ``{``/``[`` of the prose (bounded)."""
    found: list[Any] = []
    for block in FENCE.findall(text):
        try:
            found.append(json.loads(block))
        except (json.JSONDecodeError, RecursionError):
            if (value := _python_literal(block)) is not _NOT_A_LITERAL:
                found.append(value)
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"[{\[]", text)][:MAX_SCAN_STARTS]
    for start in starts:
        try:
            found.append(decoder.raw_decode(text, start)[0])
        except (json.JSONDecodeError, RecursionError):
            end = _literal_end(text, start)
            if end is not None and (value := _python_literal(text[start:end])) is not _NOT_A_LITERAL:
                found.append(value)
    return found


def parse_reply(content: str | None) -> ParsedReply:
    """Read entity mentions from a reply's text using the fallback chain in the module docstring.

    Raises:
        LLMReplyError: the reply is empty or holds no answer-shaped JSON, even after repair.
    """
    if content is None or not content.strip():
        raise LLMReplyError("the reply is empty; no entities could be read")
    try:
        whole = _mentions(json.loads(content))
    except (json.JSONDecodeError, RecursionError):
        whole = None
    if whole is not None:
        return ParsedReply(whole[0], "json", whole[1])
    literal = _python_literal(content)
    whole = None if literal is _NOT_A_LITERAL else _mentions(literal)
    if whole is not None:
        return ParsedReply(whole[0], "python", whole[1])
    for document in _embedded_documents(content):
        found = _mentions(document, whole=False)
        if found is not None:
            return ParsedReply(found[0], "extracted", found[1])
    repaired = _mentions(_repair_truncated(content), whole=False)
    if repaired is not None:
        return ParsedReply(repaired[0], "repaired", repaired[1])
    raise LLMReplyError(f"no entity JSON in the reply (starts {content[:80]!r}); check the prompt template")


def parse_complete_reply(content: str | None, finish_reason: str | None = None) -> ParsedReply:
    """:func:`parse_reply` for a reply that must be whole: a cut-off reply is never read as fewer entities.

    Raises:
        CutOffReplyError: ``finish_reason`` is ``"length"``, or the JSON breaks off before its first entity.
        LLMReplyError: as :func:`parse_reply`.
    """
    if finish_reason == CUT_OFF_FINISH_REASON:
        raise CutOffReplyError("the reply is cut off at max_tokens (finish_reason 'length')")
    reply = parse_reply(content)
    if reply.mode == "repaired" and not reply.entities:
        raise CutOffReplyError("the reply is cut off: its JSON breaks off before its first entity")
    return reply
