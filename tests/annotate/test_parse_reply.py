"""The reply parser's fallback chain: strict JSON, JSON inside prose or fences, truncated JSON; nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.annotate.parse import Mention, parse_reply
from offline_ner.errors import LLMReplyError

ENTITY = {"first": 0, "last": 1, "text": "Anne Murray", "type": "PER"}


def test_strict_json_reply_is_read_in_json_mode() -> None:
    reply = parse_reply(json.dumps({"entities": [ENTITY]}))
    assert reply.mode == "json"
    assert reply.entities == (Mention(0, 1, "Anne Murray", "PER"),)


def test_json_in_a_code_fence_inside_prose_is_extracted() -> None:
    content = "Here are the entities:\n```json\n" + json.dumps({"entities": [ENTITY]}) + "\n```\nHope this helps."
    reply = parse_reply(content)
    assert reply.mode == "extracted"
    assert reply.entities[0].text == "Anne Murray"


def test_json_object_inside_prose_without_fence_is_extracted() -> None:
    reply = parse_reply('The answer is {"entities": [{"first": 2, "last": 2, "text": "EU", "type": "ORG"}]} ok')
    assert reply.mode == "extracted"
    assert reply.entities == (Mention(2, 2, "EU", "ORG"),)


def test_truncated_json_keeps_the_complete_entities() -> None:
    full = json.dumps({"entities": [ENTITY, {"first": 3, "last": 3, "text": "Paris", "type": "LOC"}]})
    reply = parse_reply(full[: full.index("Paris") + 2])
    assert reply.mode == "repaired"
    assert reply.entities == (Mention(0, 1, "Anne Murray", "PER"),)


def test_types_as_keys_shape_gives_text_only_mentions() -> None:
    reply = parse_reply('{"PER": ["Anne Murray"], "LOC": []}')
    assert reply.entities == (Mention(None, None, "Anne Murray", "PER"),)


def test_unusable_items_are_counted_not_dropped_silently() -> None:
    reply = parse_reply(json.dumps({"entities": [ENTITY, 42, {"type": "PER"}, {"text": "x"}]}))
    assert len(reply.entities) == 1
    assert reply.invalid == 3


@pytest.mark.parametrize("content", ["", "   ", "No entities here, sorry.", "{broken", "[1, 2", None])
def test_reply_without_entity_json_raises_reply_error(content: str | None) -> None:
    with pytest.raises(LLMReplyError):
        parse_reply(content)


@given(st.text(max_size=300))
@example('{"entities": [{"first": "0", "last": true, "text": 3, "type": "PER"}]}')
@example("[" * 5000)
@example('{"a": [[')
def test_parser_raises_nothing_but_reply_errors_on_any_text(content: str) -> None:
    try:
        reply = parse_reply(content)
    except LLMReplyError:
        return
    assert reply.mode in ("json", "python", "extracted", "repaired")
    assert all(isinstance(m.type, str) and m.type for m in reply.entities)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["first", "last", "text", "type", "entities", "label", "PER"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@given(json_values, st.integers(0, 200))
def test_parser_survives_any_json_document_and_any_truncation(document: object, cut: int) -> None:
    text = json.dumps(document)
    for content in (text, text[:cut], "Answer: " + text):
        try:
            parse_reply(content)
        except LLMReplyError:
            pass


def test_chain_of_thought_answer_yields_its_entities() -> None:
    content = json.dumps(
        {
            "context": "a pop music note",
            "candidates": ["Anne Murray", "Canada"],
            "entities": [{**ENTITY, "justification": "a singer's name"}],
        }
    )
    assert parse_reply(content).entities == (Mention(0, 1, "Anne Murray", "PER"),)


# Reply shapes seen in public GPT outputs (GPT-NER, PromptNER, Self-Improve); the texts below are our own.


@pytest.mark.parametrize("content", ["{}", "[]", '{"entities": []}', '{"PER": []}', "```json\n{}\n```"])
def test_every_empty_answer_shape_is_zero_entities_not_a_failure(content: str) -> None:
    reply = parse_reply(content)
    assert reply.entities == () and reply.invalid == 0


def test_truncated_reply_keeps_an_entity_whose_closing_brace_was_cut() -> None:
    cut = '{"entities": [{"first": 0, "last": 0, "text": "EU", "type": "ORG"'
    reply = parse_reply(cut)
    assert reply.mode == "repaired"
    assert reply.entities == (Mention(0, 0, "EU", "ORG"),)
    assert parse_reply(cut + "},").entities == reply.entities


def test_truncated_reply_ending_in_a_number_does_not_keep_a_possibly_cut_index() -> None:
    reply = parse_reply('{"entities": [{"text": "EU", "type": "ORG", "first": 0, "last": 0}, {"text": "x", "first": 1')
    assert reply.entities == (Mention(0, 0, "EU", "ORG"),)


def test_span_to_type_mapping_gives_text_only_mentions() -> None:
    reply = parse_reply('{"Kobe Bryant": "PER", "Los Angeles Lakers": "ORG", "NBA": "organization"}')
    assert reply.mode == "json"
    assert reply.entities == (
        Mention(None, None, "Kobe Bryant", "PER"),
        Mention(None, None, "Los Angeles Lakers", "ORG"),
        Mention(None, None, "NBA", "organization"),
    )


def test_a_lone_entity_object_is_one_entity_not_a_span_mapping() -> None:
    reply = parse_reply('{"text": "EU", "type": "ORG"}')
    assert reply.entities == (Mention(None, None, "EU", "ORG"),)


# GPT-3.5 without a response format answers with Python literals (single quotes), often with long type names.


@pytest.mark.parametrize(
    ("content", "mode"),
    [
        ("{'Nadim Ladki': 'Person'}", "python"),
        ("{'Person': ['Nadim Ladki'], 'Location': []}", "python"),
        ("[{'text': 'Nadim Ladki', 'type': 'Person'}]", "python"),
        ("The entities are {'Nadim Ladki': 'Person'}.", "extracted"),
        ("```python\n{'Nadim Ladki': 'Person'}\n```", "extracted"),
    ],
)
def test_python_literal_reply_is_read_without_evaluating_code(content: str, mode: str) -> None:
    reply = parse_reply(content)
    assert reply.mode == mode
    assert reply.entities == (Mention(None, None, "Nadim Ladki", "Person"),)


def test_code_in_a_reply_is_never_run() -> None:
    with pytest.raises(LLMReplyError):
        parse_reply("{'x': __import__('os').system('touch /tmp/pwned')}")


def test_long_type_names_map_to_the_template_types_and_a_template_may_use_long_names() -> None:
    from offline_ner.annotate.align import normalise_type

    conll = ("PER", "LOC", "ORG", "MISC")
    assert [normalise_type(t, conll) for t in ("Person", "Location", "Organization", "Organisation",
                                               "Miscellaneous", "persons")] == ["PER", "LOC", "ORG", "ORG", "MISC", "PER"]  # fmt: skip
    assert normalise_type("Person", ("PERSON", "PLACE")) == "PERSON"


@pytest.mark.parametrize(
    ("content", "finish_reason"),
    [
        ('{"entities": [', "length"),
        ('{"entities": [', "stop"),
        ('{"entities": [{"first": 0,', None),
        (json.dumps({"entities": [ENTITY]}), "length"),  # whole JSON, but the endpoint says it stopped at the limit
    ],
)
def test_cut_off_reply_is_refused_never_read_as_fewer_entities(content: str, finish_reason: str | None) -> None:
    from offline_ner.annotate.parse import CutOffReplyError, parse_complete_reply

    with pytest.raises(CutOffReplyError):
        parse_complete_reply(content, finish_reason)
