"""Runs never end as if they succeeded: failed records fail the run (exit 15, ``ok: false``) beyond
``--max-failed``; GPT-3.5's Python-literal replies with long type names are read; a cut-off reply is asked again
once with a larger ``max_tokens`` and otherwise fails its record, never reads as "no entities".

Every test runs against the real local HTTP server of ``llm_server.py`` through the openai SDK.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from offline_ner.annotate import AnnotateConfig
from offline_ner.data import read_jsonl
from offline_ner.errors import ExitCode, LLMReplyError
from tests.annotate.flows import annotate_file
from tests.annotate.llm_server import LLMServer, Reply, completion, perfect_reply, tokens_of
from tests.annotate.test_annotate_cli import invoke

GOLD_TAGS = [
    ("B-ORG", "O", "B-MISC", "O", "O"),
    ("B-PER", "I-PER"),
    ("B-LOC", "O"),
    ("B-ORG", "O", "B-MISC", "O", "O"),
]
# GPT-3.5 without a response format: Python dict literals, spans as keys or types as keys, long type names
PYTHON_LITERALS = {
    "EU": "{'EU': 'Organization', 'German': 'Miscellaneous'}",
    "Peter": "{'Person': ['Peter Blackburn'], 'Location': [], 'Organisation': []}",
    "BRUSSELS": "Here are the entities: {'BRUSSELS': 'Location'}",
}


def refuses(request: dict[str, Any], n: int) -> Reply:
    return Reply(body=completion("I cannot help with that.", request, n))


def cut_off(request: dict[str, Any], n: int) -> Reply:
    """JSON that breaks off before its first entity, as max_tokens leaves it."""
    body = completion('{"entities": [', request, n)
    body["choices"][0]["finish_reason"] = "length"
    return Reply(body=body)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return CliRunner()


def test_run_whose_replies_all_fail_exits_15_with_ok_false_and_keeps_the_folder(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = refuses
    result = invoke(runner, "run", conll_file, "--base-url", llm_server.base_url, "--out", tmp_path / "ann", "--json")
    assert result.exit_code == ExitCode.LLM_REPLY == 15
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["type"] == "LLMReplyError"
    assert document["records_out"] == 0 and len(document["failed"]) == 4
    provenance = json.loads((tmp_path / "ann" / "provenance.json").read_text())
    assert [f["id"] for f in provenance["failed"]] == ["valid:0", "valid:1", "valid:2", "valid:3"]


def test_one_failed_record_fails_the_run_by_default_and_passes_under_max_failed(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = lambda request, n: (refuses if "Peter" in tokens_of(request) else perfect_reply)(request, n)
    common = ["run", conll_file, "--base-url", llm_server.base_url, "--json"]
    strict = invoke(runner, *common, "--out", tmp_path / "strict")
    assert strict.exit_code == 15 and json.loads(strict.stdout)["ok"] is False
    lenient = invoke(runner, *common, "--out", tmp_path / "lenient", "--max-failed", "0.25")
    assert lenient.exit_code == 0, lenient.output
    summary = json.loads(lenient.stdout)
    assert summary["ok"] is True and summary["records_out"] == 3 and [f["id"] for f in summary["failed"]] == ["valid:1"]
    just_under = invoke(runner, *common, "--out", tmp_path / "under", "--max-failed", "0.2")
    assert just_under.exit_code == 15


def test_max_failed_outside_zero_to_one_is_a_usage_error_before_any_request(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    result = invoke(runner, "run", conll_file, "--base-url", llm_server.base_url, "--out", tmp_path / "a",
                    "--max-failed", "1.5")  # fmt: skip
    assert result.exit_code == 2 and llm_server.chat_requests() == []


def test_python_literal_replies_with_long_type_names_place_every_entity_with_its_conll_type(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def gpt35(request: dict[str, Any], n: int) -> Reply:
        return Reply(body=completion(PYTHON_LITERALS[tokens_of(request)[0]], request, n))

    llm_server.responder = gpt35
    summary = annotate_file(dataclasses.replace(cfg, response_format="none"), conll_file, tmp_path / "ann")
    assert summary.failed == [] and summary.qa is not None and summary.qa["f1"] == 1.0
    assert [r.tags for r in read_jsonl(tmp_path / "ann" / "records.jsonl")] == GOLD_TAGS
    assert summary.provenance["parse_modes"] == {"extracted": 1, "python": 3}
    assert summary.provenance["alignment"]["unknown_type"] == 0


def test_cut_off_reply_is_asked_again_once_with_twice_the_max_tokens(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = lambda r, n: (cut_off if r["max_tokens"] == cfg.max_tokens else perfect_reply)(r, n)
    summary = annotate_file(cfg, conll_file, tmp_path / "ann")
    assert (
        sorted(r["max_tokens"] for r in llm_server.chat_requests()) == [cfg.max_tokens] * 3 + [2 * cfg.max_tokens] * 3
    )
    assert summary.failed == [] and summary.qa is not None and summary.qa["f1"] == 1.0
    assert summary.this_run is not None and summary.this_run.sent == 6
    assert summary.provenance["usage"]["total_tokens"] == 6 * 120  # the cut-off replies were billed too
    record = read_jsonl(tmp_path / "ann" / "records.jsonl")[0]
    assert record.provenance["reasked"]["max_tokens"] == 2 * cfg.max_tokens
    assert record.provenance["reasked"]["cut_off_reply"]["finish_reason"] == "length"


@pytest.mark.parametrize("finish_reason", ["length", "stop"])
def test_reply_cut_off_again_fails_its_record_and_is_never_read_as_no_entities(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path, finish_reason: str
) -> None:
    def always_cut(request: dict[str, Any], n: int) -> Reply:
        reply = cut_off(request, n)
        reply.body["choices"][0]["finish_reason"] = finish_reason
        return reply

    llm_server.responder = always_cut
    with pytest.raises(LLMReplyError) as raised:
        annotate_file(cfg, conll_file, tmp_path / "ann")
    assert len(llm_server.chat_requests()) == 6  # each unique request asked twice, not more
    failed = json.loads((tmp_path / "ann" / "provenance.json").read_text())["failed"]
    assert len(failed) == 4 and all("cut off" in f["reason"] for f in failed)
    assert (tmp_path / "ann" / "records.jsonl").read_text() == ""  # no record labelled "no entities"
    assert raised.value.exit_code == 15
