"""The `offline-ner annotate` commands: --json documents, exit codes, and the replay server's base URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from tests.annotate.llm_server import LLMServer, Reply, error_body


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["annotate", *map(str, args)])


def test_run_json_summary_reports_records_usage_and_qa(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    result = invoke(runner, "run", conll_file, "--base-url", llm_server.base_url, "--out", tmp_path / "ann", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True and summary["records_out"] == 4 and summary["qa"]["f1"] == 1.0
    assert (tmp_path / "ann.journal.sqlite").exists() and not (tmp_path / "ann" / "ann.journal.sqlite").exists()


def test_quota_error_exits_12_with_one_json_document(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = lambda r, n: Reply(429, error_body("quota", "insufficient_quota", "insufficient_quota"))
    result = invoke(runner, "run", conll_file, "--base-url", llm_server.base_url, "--out", tmp_path / "ann", "--json")
    assert result.exit_code == 12
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["type"] == "LLMQuotaError"


def test_plan_estimates_tokens_and_cost_without_sending(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path
) -> None:
    result = invoke(runner, "plan", conll_file, "--model", "gpt-4o-mini", "--base-url", llm_server.base_url, "--json")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert estimate["requests"] == 3 and estimate["input_tokens"] > 0
    assert 0 < estimate["expected_cost_usd"] < estimate["max_cost_usd"]
    assert llm_server.chat_requests() == []


def test_import_writes_the_folder_and_prints_per_type_f1(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"tokens": ["Anne", "Murray"], "llm": ["B-PER", "I-PER"], "gold": ["B-PER", "I-PER"]}\n')
    result = invoke(runner, "import", path, "--gold-field", "gold", "--out", tmp_path / "ann", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["per_type_f1"] == {"PER": 1.0}
    assert (tmp_path / "ann" / "qa.json").exists()


def test_batch_run_then_offline_merge_of_the_same_output(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    common = ["--base-url", llm_server.base_url]
    result = invoke(
        runner, "batch", "run", conll_file, *common, "--out", tmp_path / "ann", "--poll-interval-s", "0", "--json"
    )
    assert result.exit_code == 0, result.output
    output_file = tmp_path / "output.jsonl"
    output_file.write_bytes(next(data for file_id, data in llm_server.files.items() if file_id.startswith("file-out")))
    merged = invoke(
        runner, "batch", "merge", conll_file, *common, "--output", output_file, "--out", tmp_path / "m", "--json"
    )
    assert merged.exit_code == 0, merged.output
    assert (tmp_path / "m" / "records.jsonl").read_bytes() == (tmp_path / "ann" / "records.jsonl").read_bytes()


def test_replay_command_prints_its_base_url(tmp_path: Path) -> None:
    recordings = tmp_path / "rec.jsonl"
    recordings.write_text('{"request": {"model": "m"}, "status": 200, "response": {"ok": 1}}\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "offline_ner", "annotate", "replay", "--recordings", str(recordings)],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        request = urllib.request.Request(
            url + "/chat/completions", data=b'{"model": "m"}', headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"ok": 1}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_help_shows_examples_and_exit_codes(runner: CliRunner) -> None:
    for command in (["run"], ["plan"], ["batch", "run"], ["batch", "merge"], ["import"], ["replay"]):
        result = invoke(runner, *command, "--help")
        assert result.exit_code == 0 and "Example" in result.output and "Exit codes" in result.output


def test_import_with_sign_key_writes_a_bundle_the_closed_side_verifies(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offline_ner.bundle import TrustStore, generate_key, load_public_key, verify_bundle

    monkeypatch.setenv("OFFLINE_NER_KEY_PASSPHRASE", "correct horse")
    pair = generate_key(tmp_path / "keys", passphrase=b"correct horse", name="annotator")
    path = tmp_path / "labels.jsonl"
    path.write_text('{"tokens": ["Anne", "Murray"], "llm": ["B-PER", "I-PER"]}\n')
    bundle = tmp_path / "ann.bundle"
    result = invoke(
        runner, "import", path, "--out", tmp_path / "ann", "--sign-key", pair.private_path,
        "--stream", "llm", "--sequence", "1", "--bundle-out", bundle, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bundle"] == str(bundle)
    trust = TrustStore()
    trust.set_role("annotator", threshold=1, kinds=["annotations"])
    trust.add_key(load_public_key(pair.public_path), roles=["annotator"])
    verified = verify_bundle(bundle, trust)
    assert (verified.payload_dir / "records.jsonl").read_bytes() == (tmp_path / "ann" / "records.jsonl").read_bytes()


def test_sign_key_without_stream_is_a_usage_error_before_any_request(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    key = tmp_path / "k.key"
    key.write_text("x")
    result = invoke(
        runner, "run", conll_file, "--base-url", llm_server.base_url, "--out", tmp_path / "a", "--sign-key", key
    )
    assert result.exit_code == 2
    assert llm_server.chat_requests() == []


def test_import_on_error_skip_imports_a_file_with_bad_rows_and_reports_the_count(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"tokens": ["Anne"], "llm": ["B-PER"]}\n{"tokens": [], "llm": []}\n{"tokens": ["x"], "llm": ["B-maybe x"]}\n'
    )
    failed = invoke(runner, "import", path, "--out", tmp_path / "a", "--json")
    assert failed.exit_code == 4 and "labels.jsonl:2" in json.loads(failed.stdout)["error"]["message"]
    result = invoke(runner, "import", path, "--on-error", "skip", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert "bad rows skipped 2" in result.output
    provenance = json.loads((tmp_path / "b" / "provenance.json").read_text())
    assert provenance["records_out"] == 1 and provenance["on_error"]["skipped_rows"] == 2


def test_plan_shows_the_requests_and_cost_that_demonstrations_and_verification_add(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    demos = tmp_path / "train.conll"
    demos.write_text("Anne B-PER\nMurray I-PER\nsang O\n\nAcme B-ORG\nrose O\n\n", encoding="utf-8")
    base = invoke(runner, "plan", conll_file, "--model", "gpt-4o-mini", "--json")
    result = invoke(runner, "plan", conll_file, "--model", "gpt-4o-mini", "--demos", demos, "--verify", "--json")
    assert result.exit_code == 0, result.output
    estimate, plain = json.loads(result.stdout), json.loads(base.stdout)
    verification = estimate["added"]["verification"]
    demonstrations = estimate["added"]["demonstrations (first, 3 per input)"]
    assert verification["requests"] == 3 and estimate["requests"] == plain["requests"] + 3
    assert demonstrations["requests"] == 0 and demonstrations["input_tokens"] > 0
    assert estimate["input_tokens"] == (
        plain["input_tokens"] + demonstrations["input_tokens"] + verification["input_tokens"]
    )
    assert estimate["expected_cost_usd"] > plain["expected_cost_usd"] and plain["added"] == {}
    human = invoke(runner, "plan", conll_file, "--model", "gpt-4o-mini", "--verify")
    assert "verification adds 3 requests" in human.output
    assert llm_server.chat_requests() == []


def test_run_with_verify_reports_the_rejected_entities(
    runner: CliRunner, llm_server: LLMServer, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.rejected = {"German"}
    result = invoke(runner, "run", conll_file, "--base-url", llm_server.base_url, "--verify", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "verification: 2 of 6 entities rejected and dropped, 0 unanswered (kept)" in result.output
