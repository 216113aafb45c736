"""Record a real run's exchanges, then replay them: the whole client path runs offline with identical output."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig
from offline_ner.annotate.replay import Recorder, ReplayServer
from offline_ner.errors import DataError, LLMTransportError
from tests.annotate.flows import annotate_file
from tests.annotate.llm_server import LLMServer, Reply, error_body


def test_replayed_run_gives_the_recorded_run_byte_for_byte(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.script(Reply(400, error_body("response_format json_schema not supported")))  # fallback is recorded too
    # one request at a time: with several in flight, which requests go out before the switch to json_object
    # depends on timing, so a replay could ask for a body that was never recorded (the demo also records with 1)
    cfg = dataclasses.replace(cfg, concurrency=1)
    recorder = Recorder(tmp_path / "recordings.jsonl")
    live_summary = annotate_file(cfg, conll_file, tmp_path / "live", recorder)
    recorder.close()
    with ReplayServer(tmp_path / "recordings.jsonl") as replay:
        summary = annotate_file(dataclasses.replace(cfg, base_url=replay.base_url), conll_file, tmp_path / "replayed")
        assert replay.misses == 0
    assert "json_object" in summary.provenance["response_formats"]
    assert summary.provenance["response_formats"] == live_summary.provenance["response_formats"]
    live = (tmp_path / "live" / "records.jsonl").read_bytes()
    assert (tmp_path / "replayed" / "records.jsonl").read_bytes() == live
    assert b"gpt-4o-2024-08-06" in live


def test_unrecorded_request_is_a_clear_404(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    recorder = Recorder(tmp_path / "recordings.jsonl")
    annotate_file(cfg, conll_file, tmp_path / "live", recorder)
    recorder.close()
    with ReplayServer(tmp_path / "recordings.jsonl") as replay:
        other = dataclasses.replace(cfg, base_url=replay.base_url, temperature=0.5, max_attempts=1)
        with pytest.raises(LLMTransportError, match="no recording"):
            annotate_file(other, conll_file, tmp_path / "other")


def test_recordings_file_with_a_bad_line_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text('{"request": {}, "status": 200, "response": {}}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=":2:"):
        ReplayServer(path)
