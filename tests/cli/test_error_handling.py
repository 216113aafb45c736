"""The CLI's one error handler: exit codes from the error class, one JSON document under --json."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from offline_ner.cli._common import emit, handles_errors, json_option
from offline_ner.cli.main import COMMANDS, cli
from offline_ner.errors import DataError, ExitCode, RollbackError


def make_command(error: BaseException | None) -> click.Command:
    @click.command()
    @json_option
    @handles_errors
    def command(as_json: bool) -> None:
        if error is not None:
            raise error
        emit({"answer": 42}, as_json, human="done")

    return command


@pytest.mark.parametrize(
    ("error", "code"),
    [(DataError("bad tag", path="a.conll", line=3), ExitCode.DATA), (RollbackError("older"), ExitCode.ROLLBACK),
     (RuntimeError("bug"), ExitCode.INTERNAL)],
)
def test_error_exits_with_its_class_code_and_one_json_document(error: BaseException, code: int) -> None:
    result = CliRunner().invoke(make_command(error), ["--json"])
    assert result.exit_code == code
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["exit_code"] == code
    assert document["error"]["type"] == type(error).__name__
    assert "Error: " in result.stderr


def test_data_error_message_names_file_and_line() -> None:
    result = CliRunner().invoke(make_command(DataError("unknown tag 'X'", path="a.conll", line=3)), [])
    assert result.exit_code == ExitCode.DATA
    assert result.stderr.strip() == "Error: a.conll:3: unknown tag 'X'"


def test_success_prints_human_text_or_json() -> None:
    assert CliRunner().invoke(make_command(None), []).stdout == "done\n"
    assert json.loads(CliRunner().invoke(make_command(None), ["--json"]).stdout) == {"ok": True, "answer": 42}


def test_top_level_help_lists_every_command_and_the_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in COMMANDS)
    assert "Exit codes:" in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_every_command_has_a_one_line_summary() -> None:
    from offline_ner.cli.main import SUMMARIES

    assert sorted(SUMMARIES) == sorted(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_lists_the_exit_codes(name: str) -> None:
    from offline_ner.cli._common import EXIT_CODES_EPILOG

    result = CliRunner().invoke(cli, [name, "--help"])
    assert " ".join(EXIT_CODES_EPILOG.split()) in " ".join(result.stdout.split())


def test_train_help_examples_are_shown_as_written() -> None:
    lines = CliRunner().invoke(cli, ["train", "--help"]).stdout.splitlines()
    commands = [i for i, line in enumerate(lines) if line.strip().startswith("offline-ner train --config")]
    assert len(commands) == 2
    for start in commands:  # each example: its command line and two continuation lines, not re-wrapped
        assert lines[start].endswith("\\") and lines[start + 1].strip().startswith("--distilled")
    assert lines[commands[1] + 2].strip().startswith("--dev dev.conll --store")
