"""Exit codes are numbered once (``ExitCode``) and worded once (``EXIT_CODE_MEANINGS``): docs/exit-codes.md's table
says the same, every command's ``--help`` is built from them, and no help text writes a code number by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from offline_ner.cli._common import BUNDLE_EXIT_CODES_EPILOG, EXIT_CODES_EPILOG
from offline_ner.cli.main import COMMANDS, cli
from offline_ner.errors import EXIT_CODE_MEANINGS, ExitCode

EXIT_CODES_PAGE = (Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md").read_text(encoding="utf-8")


def _documented_exit_codes() -> dict[int, str]:
    section = EXIT_CODES_PAGE.split("# Exit codes", 1)[1].split("\n## ", 1)[0]
    table: dict[int, str] = {}
    for row in re.findall(r"^\|(.*)\|$", section, flags=re.MULTILINE):
        cells = [cell.strip() for cell in row.split("|")]
        for code, meaning in zip(cells[::2], cells[1::2]):
            if code.isdigit():
                table[int(code)] = meaning
    return table


def _commands() -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        yield name, command
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                yield f"{name} {sub_name}", sub


def test_every_exit_code_has_one_meaning() -> None:
    assert set(EXIT_CODE_MEANINGS) == set(ExitCode)


def test_readme_exit_code_table_is_exit_code_and_its_meanings() -> None:
    assert _documented_exit_codes() == {int(code): meaning for code, meaning in EXIT_CODE_MEANINGS.items()}


def test_every_command_help_lists_the_exit_codes_built_from_exit_code() -> None:
    for code in ExitCode:
        assert f"{int(code)} {code.meaning.replace('`', '')}" in BUNDLE_EXIT_CODES_EPILOG
    for name, command in _commands():
        assert command.epilog in (EXIT_CODES_EPILOG, BUNDLE_EXIT_CODES_EPILOG), name


def test_no_help_text_writes_an_exit_code_number_by_hand() -> None:
    by_hand = re.compile(r"\bexit(?:s|ing)?(?: code| with)? \d+", re.IGNORECASE)
    for name, command in _commands():
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        assert not [t for t in texts if by_hand.search(t)], name


def test_install_sh_exits_only_with_exit_code_numbers_and_lists_each_one_it_uses() -> None:
    """install.sh runs where offline-ner is not installed, so it writes its numbers; they must be ``ExitCode``'s."""
    from offline_ner.bundle.runtime import install_script

    script = install_script().decode()
    used = {int(code) for code in re.findall(r"\bdie (\d+)", script)}
    header = script.split("# Exit codes follow offline-ner's:", 1)[1].split("\nset ", 1)[0]
    listed = {int(code) for code in re.findall(r"\b(\d+) [a-z]", header)}
    assert used and used <= {int(code) for code in ExitCode}
    assert listed == used
