"""Unix manners (issue 28, item 10): a reader that closes the pipe early is not an error, outputs follow the umask
as any tool's do (keys stay 0600), and a regimen's missing data source is a usage error, not "training failed"."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import ExitCode

PASSPHRASE = {"OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple"}
REPO = Path(__file__).resolve().parents[2]


def _invoke(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + result.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly_as_cat(tmp_path: Path) -> None:
    source = tmp_path / "big.conll"
    source.write_text("".join(f"Token{i} B-PER\nsaid O\n\n" for i in range(20_000)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # `offline-ner convert big.conll --to jsonl | head -1`
    process = subprocess.Popen([sys.executable, "-m", "offline_ner", "convert", str(source), "--to", "jsonl"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b'{"id": "big:0"')
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(60) == 128 + signal.SIGPIPE, stderr  # what a shell shows for cat in the same place
    assert stderr == ""


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_outputs_follow_the_umask_and_an_overwritten_file_keeps_readable(tmp_path: Path) -> None:
    source = tmp_path / "gold.conll"
    source.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")
    for fmt in ("jsonl", "conll", "label-studio"):
        out = tmp_path / f"out.{fmt}"
        assert _invoke("convert", source, "--to", fmt, "-o", out)[0] == 0
        assert _mode(out) == 0o644, fmt
    existing = tmp_path / "existing.jsonl"
    existing.write_text("old\n")
    existing.chmod(0o644)
    assert _invoke("convert", source, "--to", "jsonl", "-o", existing)[0] == 0
    assert _mode(existing) == 0o644 and existing.read_text() != "old\n"
    os.umask(0o077)
    assert _invoke("convert", source, "--to", "jsonl", "-o", tmp_path / "private.jsonl")[0] == 0
    assert _mode(tmp_path / "private.jsonl") == 0o600


@pytest.mark.usefixtures("umask_022")
def test_private_keys_stay_0600_whatever_the_umask(tmp_path: Path) -> None:
    assert _invoke("keys", "generate", "--out", tmp_path / "keys", "--name", "k", env=PASSPHRASE)[0] == 0
    assert _mode(tmp_path / "keys" / "k.key") == 0o600


def test_the_default_regimen_without_distilled_data_is_a_usage_error(tmp_path: Path) -> None:
    gold = tmp_path / "gold.conll"
    gold.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")
    # a base model that does not exist: without the check, the run gets as far as loading it (exit 5)
    code, output = _invoke("train", "--gold", gold, "--base-model", tmp_path / "no-model", "--out", tmp_path / "run")
    assert code == ExitCode.USAGE, output
    assert "regimen 'distilled_then_gold' trains on distilled records: give --distilled" in output
    code, output = _invoke("train", "--regimen", "gold", "--base-model", tmp_path / "no-model",
                           "--out", tmp_path / "run")
    assert code == ExitCode.USAGE, output
    assert "give --gold" in output
