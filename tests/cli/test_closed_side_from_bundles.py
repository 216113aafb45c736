"""The closed-side workflow through the real CLI: signed bundles in, verified, imported, trained on, offline.

Connected side (network allowed): generate a key, bundle LLM records and a base model. Closed side (every socket
blocked): trust the key, verify and import both bundles, train from ``bundle:`` references only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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
                                      "--dev", "bundle:nothing/dev.jsonl", "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == ExitCode.MISSING_FILE
    assert "bundle import" in json.loads(result.stdout)["error"]["message"]


def _can_unshare_network() -> bool:
    probe = ["unshare", "-rn", "true"]
    return shutil.which("unshare") is not None and subprocess.run(probe, check=False, capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_unshare_network(), reason="needs 'unshare -rn' (a user and network namespace)")
def test_closed_side_cli_runs_in_a_network_namespace_with_no_interfaces(
    tmp_path: Path, signed_bundles: dict[str, Path]
) -> None:
    """verify -> import -> train a few steps -> export -> predict, as real processes where no network exists."""
    gold = tmp_path / "gold.jsonl"
    write_jsonl(toy_records(12, "g", 1), gold)
    (tmp_path / "docs.txt").write_text("Anna Berg flew to Oslo .\nAcme hired Tom Ruiz .\n", encoding="utf-8")
    script = """
set -eu
python -c "import socket; socket.create_connection(('127.0.0.1', 9), timeout=2)" 2>/dev/null && exit 90
python -c "import socket; socket.getaddrinfo('pypi.org', 443)" 2>/dev/null && exit 91
ner() { python -m offline_ner "$@"; }
ner trust add "$PUB" --role publisher --threshold 1 --kind annotations --kind model --json > /dev/null
ner bundle verify "$LLM" --json > /dev/null
ner bundle import "$LLM" --json > /dev/null
ner bundle import "$MODEL" --json > /dev/null
ner train --gold "$GOLD" --distilled bundle:toy-llm/records.jsonl --dev "$GOLD" --base-model bundle:tiny-bert/ \
    --max-steps 2 --batch-size 4 --set max_length=24 --set torch_threads=1 --quiet --json --out "$WORK/run" > /dev/null
ner export --model "$WORK/run/model" -o "$WORK/onnx" --json > /dev/null
ner predict --model "$WORK/onnx" --input "$WORK/docs.txt" -o "$WORK/entities.jsonl" --threads 1 --json > /dev/null
"""
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "OFFLINE_NER_TRUST_STORE": str(tmp_path / "trust.json"),
        "OFFLINE_NER_STORE": str(tmp_path / "store"),
        "PUB": str(signed_bundles["pub"]),
        "LLM": str(signed_bundles["llm"]),
        "MODEL": str(signed_bundles["model"]),
        "GOLD": str(gold),
        "WORK": str(tmp_path),
    }
    done = subprocess.run(["unshare", "-rn", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    lines = [json.loads(line) for line in (tmp_path / "entities.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["docs:1", "docs:2"]
