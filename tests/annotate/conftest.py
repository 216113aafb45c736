"""Fixtures for the annotate stage: a scripted OpenAI-compatible server and small inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig
from tests.annotate.llm_server import LLMServer

CONLL_TEXT = """EU B-ORG
rejects O
German B-MISC
call O
. O

Peter B-PER
Blackburn I-PER

BRUSSELS B-LOC
1996-08-22 O

EU B-ORG
rejects O
German B-MISC
call O
. O
"""


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture
def cfg(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> AnnotateConfig:
    """Points the real SDK at the local server; fast backoff so retry tests take milliseconds."""
    monkeypatch.setenv("OFFLINE_NER_TEST_KEY", "sk-test-secret-123")
    return AnnotateConfig(
        base_url=llm_server.base_url, api_key_env="OFFLINE_NER_TEST_KEY", concurrency=4, backoff_s=0.01, timeout_s=5.0
    )


@pytest.fixture
def conll_file(tmp_path: Path) -> Path:
    path = tmp_path / "valid.conll"
    path.write_text(CONLL_TEXT, encoding="utf-8")
    return path
