"""The one retry policy, against a real local server through the real openai SDK."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig
from offline_ner.annotate.client import LLMClient, RateLimiter, retry_after_s
from offline_ner.annotate.replay import Recorder
from offline_ner.errors import LLMAuthError, LLMContextLengthError, LLMQuotaError, LLMTransportError
from tests.annotate.llm_server import LLMServer, Reply, completion, error_body

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tokens: 0:EU 1:rejects\nSentence: EU rejects"}]}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {"type": "object"}}}


def send(cfg: AnnotateConfig, **kwargs: object):
    return LLMClient(cfg, **kwargs).complete(BODY, response_format=SCHEMA)  # type: ignore[arg-type]


def test_429_with_retry_after_is_retried_exactly_once_after_the_delay(
    llm_server: LLMServer, cfg: AnnotateConfig
) -> None:
    llm_server.script(Reply(429, error_body("Rate limit reached", type_="requests"), headers={"retry-after": "1"}))
    started = time.monotonic()
    reply = send(cfg)
    assert time.monotonic() - started >= 1.0
    assert len(llm_server.chat_requests()) == 2
    assert reply.attempts == 2


def test_retry_after_ms_header_is_preferred(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(429, error_body("slow down"), headers={"retry-after-ms": "30", "retry-after": "100"}))
    started = time.monotonic()
    send(cfg)
    assert 0.03 <= time.monotonic() - started < 5
    assert len(llm_server.chat_requests()) == 2


def test_500_twice_then_success_makes_three_calls(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(500, error_body("boom", type_="server_error")), Reply(503, error_body("busy")))
    reply = send(cfg)
    assert len(llm_server.chat_requests()) == 3
    assert json.loads(reply.body["choices"][0]["message"]["content"])["entities"][0]["text"] == "EU"


def test_quota_exhausted_fails_after_one_attempt(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(
        Reply(429, error_body("You exceeded your current quota", "insufficient_quota", "insufficient_quota"))
    )
    with pytest.raises(LLMQuotaError, match="quota"):
        send(cfg)
    assert len(llm_server.chat_requests()) == 1


def test_rejected_key_fails_fast_and_never_shows_the_key(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(401, error_body("Incorrect API key provided", "invalid_api_key")))
    with pytest.raises(LLMAuthError) as info:
        send(cfg)
    assert len(llm_server.chat_requests()) == 1
    assert "sk-test-secret-123" not in str(info.value)
    assert "OFFLINE_NER_TEST_KEY" in str(info.value)


def test_context_length_error_fails_fast(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(
        Reply(400, error_body("This model's maximum context length is 8192 tokens", "context_length_exceeded"))
    )
    with pytest.raises(LLMContextLengthError):
        send(cfg)
    assert len(llm_server.chat_requests()) == 1


def test_persistent_server_errors_give_up_after_max_attempts(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(*[Reply(502, error_body("bad gateway"))] * 3)
    with pytest.raises(LLMTransportError, match="3 attempts"):
        send(dataclasses.replace(cfg, max_attempts=3))
    assert len(llm_server.chat_requests()) == 3


def test_retry_after_longer_than_the_limit_is_reported_not_slept(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(429, error_body("later"), headers={"retry-after": "3600"}))
    with pytest.raises(LLMTransportError, match="3600"):
        send(cfg)


def test_malformed_json_body_is_retried(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(200, raw='{"id": "chatcmpl-1", "choices": [', headers={}))
    send(cfg)
    assert len(llm_server.chat_requests()) == 2


def test_slow_reply_past_the_timeout_is_retried(llm_server: LLMServer, cfg: AnnotateConfig) -> None:
    llm_server.script(Reply(delay_s=1.0, body=completion('{"entities": []}', {}, 1)))
    reply = send(dataclasses.replace(cfg, timeout_s=0.3))
    assert reply.attempts == 2


def test_rejected_json_schema_falls_back_to_json_object_for_the_rest_of_the_run(
    llm_server: LLMServer, cfg: AnnotateConfig
) -> None:
    llm_server.script(Reply(400, error_body("response_format json_schema is not supported by this model", None)))
    client = LLMClient(cfg)
    first = client.complete(BODY, response_format=SCHEMA)
    second = client.complete(BODY, response_format=SCHEMA)
    formats = [request.get("response_format") for request in llm_server.chat_requests()]
    assert formats == [SCHEMA, {"type": "json_object"}, {"type": "json_object"}]
    assert first.response_format == second.response_format == "json_object"


def test_one_client_sends_from_many_threads_in_parallel(cfg: AnnotateConfig) -> None:
    with LLMServer(latency_s=0.5) as server:
        client = LLMClient(dataclasses.replace(cfg, base_url=server.base_url))
        threads = [
            threading.Thread(target=client.complete, args=(BODY,), kwargs={"response_format": None}) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert server.max_active == 6


def test_rate_limiter_holds_back_requests_beyond_the_window_limits() -> None:
    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=None, window_s=0.3)
    started = time.monotonic()
    for _ in range(3):
        limiter.acquire(10)
    assert time.monotonic() - started >= 0.3
    tokens = RateLimiter(requests_per_minute=None, tokens_per_minute=100, window_s=0.3)
    started = time.monotonic()
    tokens.acquire(80)
    tokens.acquire(80)
    assert time.monotonic() - started >= 0.3


def test_recorder_keeps_every_exchange_but_never_the_key(
    llm_server: LLMServer, cfg: AnnotateConfig, tmp_path: Path
) -> None:
    llm_server.script(Reply(500, error_body("boom")))
    recorder = Recorder(tmp_path / "rec.jsonl")
    send(cfg, recorder=recorder)
    recorder.close()
    lines = [json.loads(line) for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines] == [500, 200]
    assert lines[1]["response"]["model"] == "gpt-4o-2024-08-06"
    assert "sk-test-secret-123" not in (tmp_path / "rec.jsonl").read_text()


def test_missing_key_for_openai_itself_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMAuthError, match="OPENAI_API_KEY"):
        LLMClient(AnnotateConfig())


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after-ms": "250"}, 0.25), ({"retry-after": "2"}, 2.0), ({"retry-after": "soon"}, None), ({}, None)],
)
def test_retry_after_header_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected
