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

import contextlib
import functools
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from offline_ner._extras import missing_extra
from offline_ner.errors import ExitCode, OfflineNerError

F = TypeVar("F", bound=Callable[..., Any])


def exit_codes_text(codes: Iterable[ExitCode]) -> str:
    """``"3 config error, 4 bad input data ..."``: the codes with their one wording (errors.EXIT_CODE_MEANINGS)."""
    return ", ".join(f"{int(code)} {code.meaning.replace('`', '')}" for code in codes)


_BUNDLE_CODES = [code for code in ExitCode if code >= ExitCode.BUNDLE_FORMAT]
EXIT_CODES_EPILOG = (
    f"Exit codes: {exit_codes_text(code for code in ExitCode if code < ExitCode.BUNDLE_FORMAT)}; "
    f"{int(_BUNDLE_CODES[0])}-{int(_BUNDLE_CODES[-1])} bundle (offline-ner bundle --help, docs/bundle-format.md)."
)
BUNDLE_EXIT_CODES_EPILOG = f"Bundle exit codes: {exit_codes_text(_BUNDLE_CODES)}. {EXIT_CODES_EPILOG}"

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


def _reader_went_away() -> None:
    """stdout's reader closed the pipe (``predict ... | head -1``): stop quietly with the status a shell shows for
    ``cat`` in the same place (128 + SIGPIPE), not an error. stdout goes to /dev/null so that the interpreter's
    final flush of what is still buffered cannot fail again."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: a stdout without a descriptor (tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.exit(128 + signal.SIGPIPE)


def handles_errors(command: F) -> F:
    """Map OfflineNerError to its exit code; a closed stdout pipe ends quietly; anything else exits
    ``ExitCode.INTERNAL`` (traceback only with ``--debug``)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return command(*args, **kwargs)
        except OfflineNerError as err:
            fail(err, err.exit_code, as_json, err.report.to_json() if err.report is not None else None)
        except BrokenPipeError:
            _reader_went_away()
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001  (the one place that catches everything: INTERNAL, never a silent pass)
            # an optional part of offline-ner this host did not install: say which extra brings it (exit 3)
            missing = missing_extra(err.name or "") if isinstance(err, ModuleNotFoundError) else None
            if missing is not None:
                fail(missing, missing.exit_code, as_json)
            ctx = click.get_current_context(silent=True)
            if ctx is not None and (ctx.find_root().obj or {}).get("debug"):
                traceback.print_exc()
            fail(err, ExitCode.INTERNAL, as_json)
        return None

    return wrapper  # type: ignore[return-value]
