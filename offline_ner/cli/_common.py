"""What every command shares: the ``--json`` option, the one error handler, and JSON output.

Commands stay thin: parse options, call one library entry point, print, return. Decorate with
:func:`handles_errors` so an :class:`OfflineNerError` prints ``Error: ...`` and exits with its code; with
``--json`` exactly one JSON document goes to stdout (``ok``, ``error``, plus the command's result).

Example::

    @click.command()
    @json_option
    @handles_errors
    def verify(path, as_json):
        report = verify_bundle(path)
        emit({"bundle": str(path)}, as_json, human="verified")
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from offline_ner.errors import ExitCode, OfflineNerError

F = TypeVar("F", bound=Callable[..., Any])

# codes whose lower-cased name says too little; the others are described by their name
_CODE_WORDS = {ExitCode.INTERNAL: "unexpected error", ExitCode.DATA: "bad data", ExitCode.INFER: "inference",
               ExitCode.SHARD: "shard merge"}
# families listed as one range (their codes are spelt out in README and bundle/FORMAT.md)
_CODE_FAMILIES = (("annotation", ExitCode.ANNOTATE, ExitCode.BUDGET_EXCEEDED),
                  ("bundle", ExitCode.BUNDLE_FORMAT, ExitCode.TRUST_STORE))
_NOT_CLI_CODES = (ExitCode.TARGET,)  # install.sh's own code


def exit_codes_epilog() -> str:
    """The ``--help`` line listing every exit code of the CLI, read from :class:`ExitCode` (never retyped)."""
    parts = []
    for code in ExitCode:
        family = next((f for f in _CODE_FAMILIES if f[1] <= code <= f[2]), None)
        if code in _NOT_CLI_CODES or (family is not None and code != family[1]):
            continue
        words = _CODE_WORDS.get(code, code.name.lower().replace("_", " "))
        parts.append(f"{int(code)} {words}" if family is None else f"{int(family[1])}-{int(family[2])} {family[0]}")
    return f"Exit codes: {', '.join(parts)} (see README and bundle/FORMAT.md)."


EXIT_CODES_EPILOG = exit_codes_epilog()

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Write one JSON document to stdout; human text goes to stderr."
)


def emit(result: dict[str, Any], as_json: bool, human: str | None = None, *, err: bool = False) -> None:
    """Print a command's result: the JSON document (``ok: true`` added) or the human text.

    ``err``: to stderr, because stdout carries the command's output (``-o -``).
    """
    if as_json:
        click.echo(json.dumps({"ok": True, **result}, indent=2, sort_keys=True, default=str), err=err)
    elif human is not None:
        click.echo(human, err=err)


def fail(err: BaseException, exit_code: int, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    """Report an error once (stderr; and stdout JSON under ``--json``) and exit with ``exit_code``."""
    click.echo(f"Error: {err}", err=True)
    if as_json:
        error = {"type": type(err).__name__, "exit_code": int(exit_code), "message": str(err)}
        click.echo(json.dumps({"ok": False, "error": error, **(extra or {})}, indent=2, sort_keys=True, default=str))
    sys.exit(int(exit_code))


def handles_errors(command: F) -> F:
    """Map OfflineNerError to its exit code; anything else exits 1 (traceback only with ``--debug``)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return command(*args, **kwargs)
        except OfflineNerError as err:
            fail(err, err.exit_code, as_json, getattr(err, "report", None))
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001  (the one place that catches everything: exit 1, never a silent pass)
            ctx = click.get_current_context(silent=True)
            if ctx is not None and (ctx.find_root().obj or {}).get("debug"):
                traceback.print_exc()
            fail(err, ExitCode.INTERNAL, as_json)
        return None

    return wrapper  # type: ignore[return-value]
