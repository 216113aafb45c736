"""Record real chat-completions exchanges, and serve them back from an OpenAI-compatible HTTP server.

The offline demo cannot reach a model, but it should still run the whole real client path (SDK, retries,
response-format fallback, parsing, alignment, journal). So ``annotate run --record FILE`` appends every exchange
the client made (the request body as sent, the status, the request id, the response body with its real model string and
``created`` date) to a JSONL file, and :class:`ReplayServer` answers each request with the last recorded
response for the same request body (canonical JSON, sha256). An unrecorded request gets a 404 naming its key.

Uses only the standard library (``http.server``) and binds 127.0.0.1.

Example::

    with ReplayServer(Path("recordings.jsonl")) as server:
        cfg = AnnotateConfig(base_url=server.base_url, model="SmolLM2-360M-Instruct")
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline_ner.annotate.journal import canonical_json_text
from offline_ner.data import iter_json_lines
from offline_ner.errors import DataError

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11


def replay_key(request: Any) -> str:
    """sha256 of the request body's canonical JSON."""
    return hashlib.sha256(canonical_json_text(request).encode("utf-8")).hexdigest()


class Recorder:
    """Appends one JSON line per exchange; thread-safe, flushed per line so a killed run keeps what it made."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # held open for the recorder's whole life; close() closes it
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()

    def __call__(self, request: Mapping[str, Any], status: int, response: Any, request_id: str | None) -> None:
        line = canonical_json_text(
            {"key": replay_key(request), "request": request, "status": status, "response": response,
             "request_id": request_id}
        )  # fmt: skip
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def load_recordings(path: Path) -> dict[str, tuple[int, Any, str | None]]:
    """Request key → (status, response body, request id); a later line for the same key wins (a retry's success).

    Raises:
        DataError: the file is missing or a line is not a recording.
    """
    table: dict[str, tuple[int, Any, str | None]] = {}
    for item, where in iter_json_lines(path):
        try:
            table[replay_key(item["request"])] = (int(item["status"]), item["response"], item.get("request_id"))
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"not a recording line ({err})", **where) from err
    if not table:
        raise DataError("no recordings in the file", path=path)
    return table


class JSONHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 handler that answers JSON and logs nothing; the base of the OpenAI-compatible servers."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every small reply

    def log_message(self, *args: object) -> None:
        return

    def send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        """Send ``body`` (JSON-encoded unless already a string) with ``headers``."""
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class ReplayServer:
    """Serves recorded chat completions on 127.0.0.1; use as a context manager or call ``serve_forever``."""

    def __init__(self, recordings: Path, *, port: int = 0) -> None:
        self.table = load_recordings(recordings)
        self.misses = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self.send_json(404, {"error": {"message": f"replay serves chat completions only, not {self.path}"}})
                    return
                try:
                    key = replay_key(json.loads(raw))
                except ValueError:
                    self.send_json(400, {"error": {"message": "request body is not JSON"}})
                    return
                if key not in replay.table:
                    replay.misses += 1
                    message = f"no recording for this request (key {key}); record it with annotate run --record"
                    self.send_json(404, {"error": {"message": message, "type": "not_found", "code": "no_recording"}})
                    return
                status, body, request_id = replay.table[key]
                self.send_json(status, body, {"x-request-id": request_id} if request_id else {})

        return Handler
