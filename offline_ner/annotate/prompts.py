"""Versioned prompt templates and the chat messages built from them. Pure, except reading a template file.

A template is one JSON file (``templates/<name>.v<version>.json`` in the package, or the user's own through
``--template FILE``): system and user text with ``$placeholders``, the entity type definitions, and the JSON
schema the answer must follow. Its sha256 goes into every record's provenance and every journal key, so changing
one character of a prompt never reuses answers cached for the old one.

Demonstrations come only from labelled train/dev records: :func:`check_demonstrations` refuses any whose id or
token sequence also occurs in the records being annotated (evaluating on one's own demonstrations inflates F1).

Example::

    template = load_template("fewshot_conll")
    messages = build_messages(template, record, demos)
    body = {"model": "gpt-4o", "messages": messages, "response_format": json_schema_format(template)}
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from offline_ner.data import Record
from offline_ner.errors import AnnotateError, ConfigError

BUILTIN_TEMPLATES = {"fewshot_conll": "fewshot_conll.v1.json", "cot_conll": "cot_conll.v1.json"}
REQUIRED_KEYS = ("name", "version", "system", "user", "type_definitions", "response_schema")


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt style; ``sha256`` is over the file's bytes so any edit changes it."""

    name: str
    version: str
    system: str
    user: str
    type_definitions: dict[str, str]
    response_schema: dict[str, Any]
    answer_fields: tuple[str, ...]
    sha256: str

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.type_definitions)

    def describe(self) -> dict[str, str]:
        """What provenance records about the template."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def _parse_template(raw: bytes, where: str) -> PromptTemplate:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{where}: a prompt template must be a UTF-8 JSON object ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a prompt template must be a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ConfigError(f"{where}: template lacks {', '.join(missing)}; see templates/fewshot_conll.v1.json")
    definitions = data["type_definitions"]
    if not isinstance(definitions, dict) or not definitions:
        raise ConfigError(f"{where}: type_definitions must map each entity type to its definition")
    for key in ("system", "user"):
        try:
            Template(data[key]).substitute(_placeholder_probe())
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"{where}: {key!r} uses an unknown or malformed placeholder ({err})") from err
    return PromptTemplate(
        name=str(data["name"]),
        version=str(data["version"]),
        system=data["system"],
        user=data["user"],
        type_definitions={str(k): str(v) for k, v in definitions.items()},
        response_schema=data["response_schema"],
        answer_fields=tuple(data.get("answer_fields", ())),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _placeholder_probe() -> dict[str, str]:
    return dict.fromkeys(("type_definitions", "type_names", "indexed_tokens", "sentence"), "")


def load_template(name_or_path: str | os.PathLike[str]) -> PromptTemplate:
    """A built-in template by name (``fewshot_conll``, ``cot_conll``) or a template JSON file.

    Raises:
        ConfigError: unknown name, unreadable file, missing keys, unknown placeholders.
    """
    name = str(name_or_path)
    if name in BUILTIN_TEMPLATES:
        resource = importlib.resources.files("offline_ner.annotate") / "templates" / BUILTIN_TEMPLATES[name]
        return _parse_template(resource.read_bytes(), f"template {name}")
    path = Path(name)
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN_TEMPLATES))
        raise ConfigError(f"template {name!r}: neither a built-in template ({known}) nor a file")
    return _parse_template(path.read_bytes(), str(path))


def indexed_tokens(tokens: Sequence[str]) -> str:
    """``0:EU 1:rejects 2:German``: the model answers with these indices."""
    return " ".join(f"{i}:{token}" for i, token in enumerate(tokens))


def _render(template: PromptTemplate, text: str, record: Record | None) -> str:
    values = {
        "type_definitions": "\n".join(f"- {t}: {d}" for t, d in template.type_definitions.items()),
        "type_names": ", ".join(template.types),
        "indexed_tokens": indexed_tokens(record.tokens) if record else "",
        "sentence": (record.text or " ".join(record.tokens)) if record else "",
    }
    return Template(text).substitute(values)


def demonstration_answer(template: PromptTemplate, record: Record) -> str:
    """The assistant turn for a gold-labelled demonstration, in the template's answer shape."""
    entities: list[dict[str, Any]] = []
    for span in record.spans():
        entity: dict[str, Any] = {
            "first": span.start,
            "last": span.end - 1,
            "text": " ".join(record.tokens[span.start : span.end]),
            "type": span.label,
        }
        if "justification" in template.answer_fields:
            entity["justification"] = template.type_definitions.get(span.label, span.label)
        entities.append(entity)
    answer: dict[str, Any] = {}
    if "context" in template.answer_fields:
        answer["context"] = "a news sentence"
    if "candidates" in template.answer_fields:
        answer["candidates"] = [e["text"] for e in entities]
    answer["entities"] = entities
    return json.dumps(answer, ensure_ascii=False)


def build_messages(template: PromptTemplate, record: Record, demos: Sequence[Record] = ()) -> list[dict[str, str]]:
    """System prompt, then one user/assistant pair per demonstration, then the record to label."""
    messages = [{"role": "system", "content": _render(template, template.system, None)}]
    for demo in demos:
        messages.append({"role": "user", "content": _render(template, template.user, demo)})
        messages.append({"role": "assistant", "content": demonstration_answer(template, demo)})
    messages.append({"role": "user", "content": _render(template, template.user, record)})
    return messages


def json_schema_format(template: PromptTemplate) -> dict[str, Any]:
    """The strict ``response_format`` for endpoints that honour structured outputs."""
    schema_name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in template.name)[:64]
    return {
        "type": "json_schema",
        "json_schema": {"name": schema_name, "strict": True, "schema": template.response_schema},
    }


def with_response_format(
    body: Mapping[str, Any], name: str, json_schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``body`` with the ``response_format`` parameter that format ``name`` (``config.RESPONSE_FORMATS``) sends:
    the template's strict schema, plain JSON mode, or no parameter (``none``, or no schema to send)."""
    request = dict(body)
    if name == "json_schema" and json_schema is not None:
        request["response_format"] = dict(json_schema)
    elif name == "json_object":
        request["response_format"] = {"type": "json_object"}
    return request


def select_demonstrations(pool: Iterable[Record], count: int) -> list[Record]:
    """The first ``count`` labelled records with at least one entity, in file order (deterministic)."""
    chosen: list[Record] = []
    for record in pool:
        if len(chosen) >= count:
            break
        if record.tags is not None and record.spans():
            chosen.append(record)
    return chosen


def check_demonstrations(demos: Sequence[Record], inputs: Iterable[Record]) -> None:
    """Refuse demonstrations that overlap the records to annotate (same id or same token sequence); the inputs are
    read once, one at a time (only the demonstrations are held).

    Raises:
        AnnotateError: names the first overlapping demonstration; demos must come from train/dev data.
    """
    ids, sentences = {demo.id for demo in demos}, {demo.tokens for demo in demos}
    overlap: set[str | tuple[str, ...]] = set()
    for record in inputs if demos else ():
        if record.id in ids:
            overlap.add(record.id)
        if record.tokens in sentences:
            overlap.add(record.tokens)
    for demo in demos:
        if demo.tags is None:
            raise AnnotateError(f"demonstration {demo.id} has no gold tags; demonstrations must be labelled")
        if demo.id in overlap or demo.tokens in overlap:
            raise AnnotateError(
                f"demonstration {demo.id} ({' '.join(demo.tokens)[:60]!r}) also occurs in the input; take "
                "demonstrations from train/dev data, never from the split being annotated or evaluated"
            )
