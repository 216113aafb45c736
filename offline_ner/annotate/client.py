"""Transport: send one chat-completions request through the official ``openai`` SDK, with one retry policy.

The retry policy is ours and the SDK's is switched off (``max_retries=0``): two stacked policies multiply
attempts (5 × 3 = 15 calls) and the SDK would retry ``insufficient_quota`` 429s that can never succeed. Ours:

- 429 (rate limit), 408, 409, 5xx, timeouts, connection errors: wait ``retry-after-ms`` / ``Retry-After`` when
  the server sends it (else exponential backoff), then retry, up to ``max_attempts`` attempts in all;
- 429 ``insufficient_quota`` → LLMQuotaError, 401/403 → LLMAuthError, context length → LLMContextLengthError:
  one attempt, and the run stops (fail fast: every later request would fail the same way);
- 400 rejecting ``response_format``: step down json_schema → json_object → none, remembered for the run.

Client-side requests- and tokens-per-minute limits and the per-request timeout apply to every attempt. Every
exchange (request body, status, response body) can be handed to a recorder, for replay. The API key comes from
the environment variable named in the config and is never logged or recorded.

Example::

    client = LLMClient(cfg)
    reply = client.complete({"model": cfg.model, "messages": messages}, response_format=schema)
    reply.body["choices"][0]["message"]["content"]
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import openai

from offline_ner.annotate.config import RESPONSE_FORMATS, AnnotateConfig
from offline_ner.annotate.prompts import with_response_format
from offline_ner.errors import (
    LLMAuthError,
    LLMContextLengthError,
    LLMQuotaError,
    LLMTransportError,
)

FORMAT_CHAIN = RESPONSE_FORMATS  # strictest first; a rejected format is never tried again in this run
RETRYABLE_STATUS = frozenset({408, 409, 429})
Recorder = Callable[[Mapping[str, Any], int, Any, "str | None"], None]


@dataclass(frozen=True)
class Reply:
    """A successful exchange: the response body as sent, its request id, the format used, attempts made."""

    body: dict[str, Any]
    request_id: str | None
    response_format: str
    attempts: int


class _FormatRejected(Exception):
    """The endpoint refused the response_format; the caller steps down the chain."""


class RateLimiter:
    """Sliding one-minute window over request starts and their estimated tokens, shared by all threads."""

    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None, window_s: float = 60.0) -> None:
        self.rpm, self.tpm, self.window_s = requests_per_minute, tokens_per_minute, window_s
        self._window: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        """Block until one more request of ``tokens`` fits in the last minute."""
        if self.rpm is None and self.tpm is None:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                while self._window and now - self._window[0][0] >= self.window_s:
                    self._window.popleft()
                used = sum(t for _, t in self._window)
                fits_rpm = self.rpm is None or len(self._window) < self.rpm
                fits_tpm = self.tpm is None or not self._window or used + tokens <= self.tpm
                if fits_rpm and fits_tpm:
                    self._window.append((now, tokens))
                    return
                wait = self.window_s - (now - self._window[0][0])
            time.sleep(min(max(wait, 0.01), 1.0))


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The server's requested delay: ``retry-after-ms`` (OpenAI), else ``Retry-After`` seconds or HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError):
        return None  # unreadable: fall back to our own backoff
    return max(parsed.timestamp() - time.time(), 0.0)


def _wire_body(err: openai.APIStatusError) -> Any:
    try:
        return json.loads(err.response.text)
    except (ValueError, UnicodeDecodeError):
        return err.response.text


def _sent_body(http_request: Any, fallback: Mapping[str, Any]) -> Any:
    """The request body exactly as it went over the wire (what a replay server will see)."""
    try:
        return json.loads(http_request.content)
    except (AttributeError, ValueError, TypeError):
        return dict(fallback)


def _mentions_format(err: openai.APIStatusError) -> bool:
    text = f"{err.message} {err.param or ''}".lower()
    return "response_format" in text or "json_schema" in text or "structured output" in text


class LLMClient:
    """A thread-safe chat-completions sender; see the module docstring for the policy."""

    def __init__(
        self, cfg: AnnotateConfig, *, recorder: Recorder | None = None, http_client: Any | None = None
    ) -> None:
        api_key = os.environ.get(cfg.api_key_env)
        if not api_key:
            if cfg.base_url is None:
                raise LLMAuthError(f"no API key: set the environment variable {cfg.api_key_env}")
            api_key = "unused"  # local servers (vLLM, llama.cpp, replay) accept any key
        self.cfg = cfg
        self._sdk = openai.OpenAI(
            api_key=api_key,
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        self._recorder = recorder
        self._limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self._format_level = FORMAT_CHAIN.index(cfg.response_format)
        self._lock = threading.Lock()

    @property
    def sdk(self) -> openai.OpenAI:
        """The underlying SDK client (the Batch API uses its files and batches resources)."""
        return self._sdk

    def complete(
        self, body: Mapping[str, Any], *, response_format: Mapping[str, Any] | None, estimated_tokens: int = 0
    ) -> Reply:
        """Send ``body`` (model, messages, parameters) with the strictest response format the endpoint takes.

        Args:
            body: the request without ``response_format``.
            response_format: the json_schema format to try first (None: the template has none).
            estimated_tokens: counted against ``tokens_per_minute``.

        Raises:
            LLMAuthError, LLMQuotaError, LLMContextLengthError: fail fast, one attempt.
            LLMTransportError: retries exhausted, a too-long Retry-After, or an unexpected 4xx.
        """
        while True:
            with self._lock:
                level = self._format_level
            name = FORMAT_CHAIN[level]
            request = with_response_format(body, name, response_format)
            try:
                data, request_id, attempts = self._send(request, estimated_tokens)
            except _FormatRejected as err:
                if level + 1 >= len(FORMAT_CHAIN):
                    raise LLMTransportError(f"the endpoint rejected a request without response_format: {err}") from err
                with self._lock:
                    self._format_level = max(self._format_level, level + 1)
                continue
            return Reply(body=data, request_id=request_id, response_format=name, attempts=attempts)

    def _record(self, request: Mapping[str, Any], status: int, body: Any, request_id: str | None) -> None:
        if self._recorder is not None:
            self._recorder(request, status, body, request_id)

    def _send(self, request: dict[str, Any], estimated_tokens: int) -> tuple[dict[str, Any], str | None, int]:
        where = f"{self.cfg.base_url or 'api.openai.com'} model {request.get('model')}"
        for attempt in range(1, self.cfg.max_attempts + 1):
            self._limiter.acquire(estimated_tokens)
            try:
                raw = self._sdk.chat.completions.with_raw_response.create(**request)
                data = json.loads(raw.text)
            except openai.APIStatusError as err:
                self._record(_sent_body(err.request, request), err.status_code, _wire_body(err), err.request_id)
                delay = self._classify(err, where, has_format="response_format" in request)
                reason = f"HTTP {err.status_code}: {err.message}"
            except (openai.APITimeoutError, openai.APIConnectionError) as err:
                delay, reason = None, f"{type(err).__name__}: {err}"
            except ValueError as err:  # a 200 whose body is not JSON: the endpoint is broken, retry
                delay, reason = None, f"invalid JSON body: {err}"
            else:
                self._record(_sent_body(raw.http_request, request), raw.status_code, data, raw.request_id)
                if not isinstance(data, dict):
                    raise LLMTransportError(f"{where}: the response body is not a JSON object")
                return data, raw.request_id, attempt
            if attempt == self.cfg.max_attempts:
                raise LLMTransportError(f"{where}: gave up after {attempt} attempts; last error {reason}")
            if delay is None:
                delay = min(self.cfg.backoff_s * 2 ** (attempt - 1), 60.0)
            if delay > self.cfg.max_retry_after_s:
                raise LLMTransportError(
                    f"{where}: the server asked to wait {delay:.0f} s (> max_retry_after_s); try again later"
                )
            time.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _classify(self, err: openai.APIStatusError, where: str, *, has_format: bool) -> float | None:
        """Raise for errors retrying cannot fix; return the server's delay (or None) for retryable ones."""
        status, code = err.status_code, (err.code or "")
        message = err.message
        if status in (401, 403):
            raise LLMAuthError(
                f"{where}: the endpoint rejected the API key from ${self.cfg.api_key_env} (HTTP {status})"
            ) from err
        if status == 429 and (code == "insufficient_quota" or err.type == "insufficient_quota"):
            raise LLMQuotaError(
                f"{where}: quota exhausted (insufficient_quota); add credit or use another key"
            ) from err
        if code == "context_length_exceeded" or "context length" in message.lower():
            raise LLMContextLengthError(
                f"{where}: the request exceeds the model's context window; use fewer demonstrations or shorter "
                "records (sentence_records max_tokens)"
            ) from err
        if status in (400, 422) and has_format and _mentions_format(err):
            raise _FormatRejected(message) from err
        if status in RETRYABLE_STATUS or status >= 500:
            return retry_after_s(err.response.headers)
        raise LLMTransportError(f"{where}: HTTP {status}: {message}") from err
