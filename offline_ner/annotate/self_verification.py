"""Self-verification (GPT-NER): a second request per labelled sentence asks the model to confirm each entity.

GPT-NER found that LLMs over-predict entities and that asking the model, entity by entity, "is X a TYPE here?"
removes many false positives. Here one request per sentence lists every extracted entity with its type and the
type's definition; the model answers yes or no per entity, and the entities it rejects are dropped. One request
per sentence instead of per entity: the same question at a fraction of the prompt tokens.

Pure: this module builds the request bodies and reads the verdicts; ``run`` sends them through the journal, so a
resumed run repeats no verification either. A verdict that is missing or unreadable keeps the entity (counted as
``unverified``): verification may only remove what the model itself rejects.

Example::

    body = verification_body(cfg, template, record, spans)
    verdicts = parse_verdicts('{"verdicts": [{"id": 1, "correct": false}]}', n_entities=1)   # [False]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.parse import FENCE
from offline_ner.annotate.prompts import PromptTemplate
from offline_ner.data import Record, Span
from offline_ner.errors import LLMReplyError

VERIFY_VERSION = "1"
VERIFY_MAX_TOKENS = 256  # {"verdicts": [...]} for ~20 entities; a CoNLL sentence has 1.7 on average
EXPECTED_VERIFY_OUTPUT_TOKENS = 40  # planning: the verdicts of two entities
VERIFY_PLANNED_ENTITIES = 2  # planning: entities listed per verified sentence (CoNLL-2003 averages 1.7)
SYSTEM = (
    "You check named-entity labels. Entity types:\n{definitions}\n"
    "For each numbered entity, decide whether the text is really an entity of the given type in this sentence. "
    'Answer only with JSON: {{"verdicts": [{{"id": <number>, "correct": true or false}}, ...]}}, one verdict per '
    "entity."
)
USER = "Sentence: {sentence}\nEntities:\n{entities}"
SCHEMA = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "correct": {"type": "boolean"}},
                "required": ["id", "correct"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["verdicts"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "verify_entities", "strict": True, "schema": SCHEMA}}
# every text that shapes a verification request: its hash goes into the journal key, like a template's
PROMPT_SHA256 = hashlib.sha256(json.dumps([VERIFY_VERSION, SYSTEM, USER, SCHEMA]).encode()).hexdigest()
YES = frozenset({"yes", "y", "true", "correct"})
NO = frozenset({"no", "n", "false", "incorrect"})


def verification_messages(template: PromptTemplate, record: Record, spans: Sequence[Span]) -> list[dict[str, str]]:
    """The system prompt with the type definitions, and the sentence with its numbered entities."""
    definitions = "\n".join(f"- {t}: {d}" for t, d in template.type_definitions.items())
    entities = "\n".join(
        f'{i}. "{" ".join(record.tokens[s.start : s.end])}" - {s.label}' for i, s in enumerate(spans, start=1)
    )
    sentence = record.text or " ".join(record.tokens)
    return [
        {"role": "system", "content": SYSTEM.format(definitions=definitions)},
        {"role": "user", "content": USER.format(sentence=sentence, entities=entities)},
    ]


def verification_body(
    cfg: AnnotateConfig, template: PromptTemplate, record: Record, spans: Sequence[Span]
) -> dict[str, Any]:
    """The chat request (without response_format) that verifies ``spans`` of ``record``."""
    params: dict[str, Any] = {"temperature": 0.0, "max_tokens": VERIFY_MAX_TOKENS}
    if cfg.seed is not None:
        params["seed"] = cfg.seed
    return {"model": cfg.model, "messages": verification_messages(template, record, spans), **params}


def _verdict(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().strip(".!").lower()
        return True if word in YES else False if word in NO else None
    return None


def _document(content: str) -> Any:
    for candidate in (content, *FENCE.findall(content)):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, RecursionError):
            continue
    start = content.find("{")
    if start >= 0:
        try:
            return json.JSONDecoder().raw_decode(content, start)[0]
        except (json.JSONDecodeError, RecursionError):
            pass
    return None


def parse_verdicts(content: str | None, n_entities: int) -> list[bool | None]:
    """One verdict per entity in order: True (confirmed), False (rejected), None (not answered).

    Accepts ``{"verdicts": [{"id": 1, "correct": true}]}`` (ids from 1, ``answer: "yes"`` too), a bare list of
    booleans or yes/no strings in entity order, and ``{"1": "no", ...}``.

    Raises:
        LLMReplyError: no JSON with verdicts in the reply.
    """
    document = _document(content or "")
    verdicts: list[bool | None] = [None] * n_entities
    if isinstance(document, dict) and isinstance(document.get("verdicts"), list):
        document = document["verdicts"]
    if isinstance(document, list):
        for position, item in enumerate(document):
            if isinstance(item, dict):
                index = item.get("id", position + 1)
                value = _verdict(item.get("correct", item.get("answer")))
            else:
                index, value = position + 1, _verdict(item)
            if isinstance(index, int) and not isinstance(index, bool) and 1 <= index <= n_entities:
                verdicts[index - 1] = value
        return verdicts
    if isinstance(document, dict) and document:
        for key, value in document.items():
            if str(key).strip().isdigit() and 1 <= int(key) <= n_entities:
                verdicts[int(key) - 1] = _verdict(value)
        return verdicts
    raise LLMReplyError(f"no verdict JSON in the verification reply (starts {(content or '')[:80]!r})")
