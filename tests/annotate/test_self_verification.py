"""Self-verification: the model confirms each extracted entity; rejected ones are dropped and counted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.annotate import AnnotateConfig
from offline_ner.annotate.self_verification import parse_verdicts
from offline_ner.data import read_jsonl
from offline_ner.errors import LLMReplyError
from tests.annotate.flows import annotate_file
from tests.annotate.llm_server import LLMServer, is_verification


def test_verification_drops_the_entities_the_server_rejects(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.rejected = {"German"}
    summary = annotate_file(dataclasses.replace(cfg, verify=True), conll_file, tmp_path / "ann")
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert records[0].tags == ("B-ORG", "O", "O", "O", "O")
    assert records[0].provenance["verification"]["rejected"] == [{"text": "German", "type": "MISC"}]
    assert records[1].tags == ("B-PER", "I-PER") and records[1].provenance["verification"]["status"] == "answered"
    # three unique sentences with entities -> three verification requests (the repeated sentence shares one)
    assert sum(is_verification(r) for r in llm_server.chat_requests()) == 3
    verification = summary.provenance["selection"]["verification"]
    assert verification == {"requests": 3, "replies": 3, "entities": 6, "rejected": 2, "unverified": 0}
    qa = json.loads((tmp_path / "ann" / "qa.json").read_text())
    assert qa["before_verification"]["overall"]["f1"] == 1.0 and qa["final"]["entity_agreement"]["MISC"]["missed"] == 2
    assert summary.provenance["complete"] is True and summary.provenance["requests"] == 6


def test_verification_rerun_repeats_no_request_and_writes_identical_bytes(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.rejected = {"BRUSSELS"}
    verify_cfg = dataclasses.replace(cfg, verify=True)
    annotate_file(verify_cfg, conll_file, tmp_path / "ann")
    first = {p.name: p.read_bytes() for p in (tmp_path / "ann").iterdir()}
    sent = len(llm_server.chat_requests())
    summary = annotate_file(verify_cfg, conll_file, tmp_path / "ann")
    assert summary.this_run.sent == 0 and len(llm_server.chat_requests()) == sent
    assert {p.name: p.read_bytes() for p in (tmp_path / "ann").iterdir()} == first


def test_without_verification_no_verification_request_is_sent(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.rejected = {"German"}
    annotate_file(cfg, conll_file, tmp_path / "ann")
    assert not any(is_verification(r) for r in llm_server.chat_requests())
    assert read_jsonl(tmp_path / "ann" / "records.jsonl")[0].tags[2] == "B-MISC"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"verdicts": [{"id": 2, "correct": false}, {"id": 1, "correct": true}]}', [True, False, None]),
        ('```json\n[true, "no", "maybe"]\n```', [True, False, None]),
        ('{"1": "Yes.", "3": "no"}', [True, None, False]),
        ('Here: {"verdicts": [{"id": 1, "answer": "no"}, {"id": 9, "correct": false}]}', [False, None, None]),
    ],
)
def test_verdicts_are_read_from_every_reply_shape(content: str, expected: list) -> None:
    assert parse_verdicts(content, 3) == expected


def test_a_verification_reply_without_json_is_a_reply_error() -> None:
    with pytest.raises(LLMReplyError):
        parse_verdicts("All correct!", 2)


@given(st.text(max_size=200), st.integers(0, 5))
@example('{"verdicts": [{"id": true, "correct": "yes"}, {"id": 99}]}', 2)
@example('{"1": ["no"], "x": "yes"}', 1)
def test_verdict_parser_raises_nothing_but_reply_errors_and_gives_one_verdict_per_entity(
    content: str, n_entities: int
) -> None:
    try:
        verdicts = parse_verdicts(content, n_entities)
    except LLMReplyError:
        return
    assert len(verdicts) == n_entities and all(v in (True, False, None) for v in verdicts)
