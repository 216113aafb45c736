"""The CLI end to end: keys, trust, bundle create/inspect/verify/import/resolve, exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offline_ner.cli.main import cli
from offline_ner.errors import ExitCode
from tests.bundle.simulator import PROVENANCE, records_jsonl


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def signed(tmp_path: Path, env: dict[str, str]) -> Path:
    """keys generate -> trust add -> bundle create, all through the CLI; returns the bundle."""
    assert run(env, "keys", "generate", "--out", str(tmp_path / "keys"), "--name", "annotator").exit_code == 0
    added = run(
        env,
        "trust",
        "add",
        str(tmp_path / "keys" / "annotator.pub.pem"),
        "--role",
        "annotator",
        "--kind",
        "annotations",
        "--threshold",
        "1",
        "--json",
    )
    assert added.exit_code == 0, added.output
    export = tmp_path / "export"
    export.mkdir()
    (export / "records.jsonl").write_bytes(records_jsonl())
    (export / "provenance.json").write_text(json.dumps(PROVENANCE))
    out = tmp_path / "a.bundle"
    created = run(
        env,
        "bundle",
        "create",
        "--kind",
        "annotations",
        "--stream",
        "conll-llm",
        "--sequence",
        "1",
        "--key",
        str(tmp_path / "keys" / "annotator.key"),
        "--created",
        "2026-01-01T00:00:00Z",
        str(export),
        "-o",
        str(out),
        "--json",
    )
    assert created.exit_code == 0, created.output
    return out


def test_verify_json_reports_every_file_and_signature(signed: Path, env: dict[str, str]) -> None:
    result = run(env, "bundle", "verify", str(signed), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["verified"] and doc["status"] == "VERIFIED"
    assert [f["verdict"] for f in doc["files"]] == ["ok", "ok"]
    assert [s["verdict"] for s in doc["signatures"]] == ["valid"]


def test_tampered_bundle_exits_with_hash_mismatch_and_json_report(signed: Path, env: dict[str, str]) -> None:
    data = bytearray(signed.read_bytes())
    at = data.rindex(b"Oslo")
    data[at] = ord("X")
    signed.write_bytes(bytes(data))
    human = run(env, "bundle", "verify", str(signed))
    assert human.exit_code == ExitCode.HASH_MISMATCH
    result = run(env, "bundle", "verify", str(signed), "--json")
    assert result.exit_code == ExitCode.HASH_MISMATCH
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["type"] == "HashMismatchError" and doc["error"]["exit_code"] == 27
    assert {f["path"]: f["verdict"] for f in doc["files"]}["records.jsonl"] == "HashMismatchError"


def test_inspect_without_trust_marks_everything_unverified(signed: Path, env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if k != "OFFLINE_NER_TRUST_STORE"}
    result = run(bare, "bundle", "inspect", str(signed))
    assert result.exit_code == 0
    assert result.stdout.startswith("UNVERIFIED")
    doc = json.loads(run(env, "bundle", "inspect", str(signed), "--json").stdout)
    assert doc["status"] == "VERIFIED" and doc["manifest"]["stream"] == "conll-llm"


def test_import_twice_then_resolve(signed: Path, env: dict[str, str]) -> None:
    first = json.loads(run(env, "bundle", "import", str(signed), "--json").stdout)
    again = json.loads(run(env, "bundle", "import", str(signed), "--json").stdout)
    assert (first["already_imported"], again["already_imported"]) == (False, True)
    resolved = run(env, "bundle", "resolve", "bundle:conll-llm/records.jsonl")
    assert Path(resolved.stdout.strip()).read_bytes() == records_jsonl()
    listing = json.loads(run(env, "trust", "list", "--json").stdout)
    assert listing["streams"]["conll-llm"]["sequence"] == 1


def test_bundle_from_an_untrusted_key_exits_unknown_key(signed: Path, env: dict[str, str], tmp_path: Path) -> None:
    keyid = json.loads(run(env, "trust", "list", "--json").stdout)["keys"]
    assert run(env, "trust", "remove", next(iter(keyid))[:10]).exit_code == 0
    run(env, "keys", "generate", "--out", str(tmp_path / "k2"))
    run(env, "trust", "add", str(tmp_path / "k2" / "signing.pub.pem"), "--role", "annotator")
    assert run(env, "bundle", "verify", str(signed)).exit_code == ExitCode.UNKNOWN_KEY


def test_wrong_passphrase_exits_key_file(signed: Path, env: dict[str, str], tmp_path: Path) -> None:
    wrong = {**env, "OFFLINE_NER_KEY_PASSPHRASE": "nope"}
    result = run(
        wrong,
        "bundle",
        "create",
        "--kind",
        "annotations",
        "--stream",
        "s",
        "--sequence",
        "1",
        "--key",
        str(tmp_path / "keys" / "annotator.key"),
        str(tmp_path / "export"),
        "-o",
        str(tmp_path / "x"),
    )
    assert result.exit_code == ExitCode.KEY_FILE
    assert not (tmp_path / "x").exists()


def test_missing_trust_store_exits_trust_store(signed: Path, env: dict[str, str], tmp_path: Path) -> None:
    other = {**env, "OFFLINE_NER_TRUST_STORE": str(tmp_path / "none.json")}
    assert run(other, "bundle", "verify", str(signed)).exit_code == ExitCode.TRUST_STORE


def test_help_lists_the_exit_codes(env: dict[str, str]) -> None:
    text = " ".join(run(env, "bundle", "verify", "--help").stdout.split())
    for code in (ExitCode.ROLLBACK, ExitCode.UNSAFE_PATH):
        assert f"{int(code)} {code.meaning}" in text
    assert "Example" in text


def test_inspect_of_a_file_that_is_not_a_bundle_exits_bundle_format(env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.bundle"
    junk.write_bytes(b"PK\x03\x04 not a tar")
    result = run(env, "bundle", "inspect", str(junk), "--json")
    assert result.exit_code == ExitCode.BUNDLE_FORMAT
    assert json.loads(result.stdout)["error"]["type"] == "BundleError"


def test_bundle_create_to_dash_writes_the_same_bytes_to_stdout(signed: Path, env: dict[str, str], tmp_path: Path) -> None:
    created = run(
        env, "bundle", "create", "--kind", "annotations", "--stream", "conll-llm", "--sequence", "1",
        "--key", str(tmp_path / "keys" / "annotator.key"), "--created", "2026-01-01T00:00:00Z",
        str(tmp_path / "export"), "-o", "-", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    assert created.stdout_bytes == signed.read_bytes(), "stdout carries the bundle and nothing else"
    assert json.loads(created.stderr[created.stderr.index("{"):])["bundle"] == "-"
    assert not (Path.cwd() / "-").exists()
