"""The closed-side workflow through the real CLI: signed bundles in, verified, imported, trained on, offline.

Connected side (network allowed): generate a key, bundle LLM records and a base model. Closed side (every socket
blocked): trust the key, verify and import both bundles, train from ``bundle:`` references only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data import write_jsonl
from offline_ner.errors import ExitCode
from tests.train.conftest import toy_records

PASSPHRASE = {"OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple"}


def run(*args: str | Path) -> dict:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=PASSPHRASE)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else {}


@pytest.fixture
def signed_bundles(tmp_path: Path, tiny_bert_dir: Path) -> dict[str, Path]:
    """A key pair, an annotations bundle of distilled records and a model bundle of the tiny BERT."""
    run("keys", "generate", "--out", tmp_path / "keys", "--name", "annotator")
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    write_jsonl(toy_records(12, "d", 2, noisy=True), annotations / "records.jsonl")
    (annotations / "provenance.json").write_text('{"model": "recorded-test"}\n', encoding="utf-8")
    key = tmp_path / "keys" / "annotator.key"
    common = ["--key", key, "--created", "2026-11-01T00:00:00Z"]
    run("bundle", "create", annotations, "--kind", "annotations", "--stream", "toy-llm", "--sequence", 1, *common,
        "-o", tmp_path / "llm.bundle")
    run("bundle", "create", tiny_bert_dir, "--kind", "model", "--stream", "tiny-bert", "--sequence", 1, *common,
        "-o", tmp_path / "model.bundle")
    return {"pub": tmp_path / "keys" / "annotator.pub.pem", "llm": tmp_path / "llm.bundle",
            "model": tmp_path / "model.bundle"}


def test_training_from_imported_bundles_needs_no_network(
    tmp_path: Path, signed_bundles: dict[str, Path], no_network: None
) -> None:
    trust, store = tmp_path / "trust.json", tmp_path / "store"
    gold = tmp_path / "gold.jsonl"
    write_jsonl(toy_records(12, "g", 1), gold)
    run("trust", "add", signed_bundles["pub"], "--role", "publisher", "--threshold", "1", "--kind", "annotations",
        "--kind", "model", "--trust-store", trust)
    for name in ("llm", "model"):
        report = run("bundle", "import", signed_bundles[name], "--store", store, "--trust-store", trust, "--json")
        assert report["ok"] is True
    summary = run(
        "train", "--gold", gold, "--distilled", "bundle:toy-llm/records.jsonl", "--dev", gold,
        "--base-model", "bundle:tiny-bert/", "--store", store, "--max-steps", 2, "--batch-size", 4,
        "--set", "max_length=24", "--set", "torch_threads=1", "--quiet", "--json", "--out", tmp_path / "run",
    )
    assert Path(summary["model_dir"], "config.json").is_file()
    phases = [phase["name"] for phase in summary["metrics"]["phases"]]
    assert phases == ["distilled", "gold"]


def test_reference_to_a_stream_that_was_never_imported_is_a_missing_file(tmp_path: Path, no_network: None) -> None:
    result = CliRunner().invoke(cli, ["train", "--gold", "bundle:nothing/records.jsonl", "--store", str(tmp_path),
                                      "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == ExitCode.MISSING_FILE
    assert "bundle import" in json.loads(result.stdout)["error"]["message"]
