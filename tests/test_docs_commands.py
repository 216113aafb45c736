"""Every ``offline-ner ...`` command line shown in README.md and docs/ parses with the real CLI: the command path
exists and each flag is one that command accepts, with the values it needs (click's own parser, ``--help``-level:
nothing runs, no file is opened, no type is converted).

Command lines are read from code blocks (fenced, or indented four spaces; diagrams skipped), continuation lines
joined; a line ends at a shell separator (``|``, ``&&``, ``;``, ``>``, ``&``) or a comment. ``...`` stands for
elided arguments.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from offline_ner.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SEPARATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1"}
ELIDED = {"...", "…"}


def _code_blocks(text: str) -> Iterator[list[str]]:
    """The code blocks of a Markdown text (fenced, or indented four spaces), each as its lines."""
    fenced, block = False, []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if fenced:
                yield block
                block = []
            fenced = not fenced
        elif fenced or line.startswith("    "):
            block.append(line.strip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def _code_lines(text: str) -> Iterator[str]:
    """The command lines of the code blocks, continuation lines (ending in a backslash) joined; diagrams skipped."""
    for block in _code_blocks(text):
        if any("──" in line for line in block):
            continue
        pending = ""
        for line in block:
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            yield pending + line
            pending = ""


def command_lines(text: str) -> Iterator[list[str]]:
    """The arguments after each ``offline-ner`` in the code blocks of ``text``, each up to a separator or comment."""
    for line in _code_lines(text):
        if "offline-ner" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote: the line is prose, not a command
            continue
        segment: list[str] = []
        for token in [*tokens, ";"]:
            if token not in SEPARATORS and not set(token) <= set("|&;<>"):
                segment.append(token)
                continue
            if "offline-ner" in segment:
                args = segment[segment.index("offline-ner") + 1 :]
                if args and not args[0].startswith("-"):
                    yield [a for a in args if a not in ELIDED]
            segment = []


def parse_problem(args: list[str]) -> str | None:
    """Why ``offline-ner ARGS`` would not parse (unknown command or flag, a flag without its value), else None."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="offline-ner")
    path = ["offline-ner"]
    while isinstance(command, click.Group):
        if not args:
            return None  # a group alone prints its help
        sub = command.get_command(ctx, args[0])
        if sub is None:
            return f"no command {args[0]!r} under {' '.join(path)}"
        path.append(args.pop(0))
        ctx = click.Context(sub, info_name=path[-1], parent=ctx)
        command = sub
    parser = command.make_parser(ctx)
    try:
        _, extra, _ = parser.parse_args(args=list(args))
    except click.UsageError as err:
        return f"{' '.join(path)}: {err.format_message()}"
    if extra and not command.allow_extra_args:
        return f"{' '.join(path)}: unexpected extra arguments {extra}"
    return None


def _documented() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for args in command_lines(doc.read_text(encoding="utf-8")):
            found.append((f"{doc.relative_to(ROOT)}: offline-ner {' '.join(args)}", args))
    return found


DOCUMENTED = _documented()


def test_the_docs_show_commands_of_every_stage() -> None:
    shown = {args[0] for _, args in DOCUMENTED}
    assert {"annotate", "bundle", "trust", "keys", "train", "export", "predict", "predict-merge", "experiment"} <= shown


@pytest.mark.parametrize("args", [args for _, args in DOCUMENTED], ids=[where for where, _ in DOCUMENTED])
def test_every_documented_command_line_parses(args: list[str]) -> None:
    assert parse_problem(list(args)) is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("offline-ner predict --model m --no-such-flag x", "No such option"),
        ("offline-ner bundel verify x.bundle", "no command 'bundel'"),
        ("offline-ner bundle verfy x.bundle", "no command 'verfy'"),
        ("offline-ner predict --model", "requires an argument"),
        ("offline-ner bundle verify a.bundle b.bundle", "unexpected extra arguments"),
    ],
)
def test_a_command_line_that_no_longer_parses_is_caught(line: str, problem: str) -> None:
    (args,) = list(command_lines(f"    {line}\n"))
    found = parse_problem(args)
    assert found is not None and problem in found


def test_continuation_lines_comments_and_pipes_are_read_as_the_shell_reads_them() -> None:
    text = "```\ncat a | offline-ner predict --model m \\\n    --input x -o y   # a comment\n```\n"
    assert list(command_lines(text)) == [["predict", "--model", "m", "--input", "x", "-o", "y"]]
    both = "    offline-ner bundle verify b.bundle && offline-ner bundle import b.bundle --store s > log\n"
    assert list(command_lines(both)) == [["bundle", "verify", "b.bundle"], ["bundle", "import", "b.bundle", "--store", "s"]]
