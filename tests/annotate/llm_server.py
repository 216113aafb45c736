"""A real OpenAI-compatible HTTP server on 127.0.0.1 (port 0, own thread), scripted per test.

It speaks chat completions (extraction requests and self-verification requests), files (multipart upload, content download) and batches (created, then completed on
the second retrieve). By default it answers like a perfect annotator for the words in LEXICON; a test pushes
scripted replies (status, headers, body or raw text, delay) that are served first, in order, or replaces
``responder`` with its own function. Every request is logged, so tests count calls.
"""

from __future__ import annotations

import email.parser
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from offline_ner.annotate.replay import JSONHandler

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

LEXICON = {
    "EU": "ORG", "Reuters": "ORG", "Acme": "ORG", "German": "MISC", "British": "MISC", "Peter": "PER",
    "Blackburn": "PER", "Anne": "PER", "Murray": "PER", "BRUSSELS": "LOC", "London": "LOC", "Paris": "LOC",
}  # fmt: skip
MODEL_STRING = "gpt-4o-2024-08-06"
CREATED = 1_732_000_000  # fixed, so replies and therefore outputs are byte-identical across runs


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    delay_s: float = 0.0


def tokens_of(request: dict[str, Any]) -> list[str]:
    """The tokens of the sentence being asked about (the last user message's ``Tokens:`` line)."""
    text = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
    line = next(line for line in text.splitlines() if line.startswith("Tokens:"))
    return [re.sub(r"^\d+:", "", item) for item in line[len("Tokens:") :].split()]


def perfect_entities(tokens: list[str]) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    for i, token in enumerate(tokens):
        label = LEXICON.get(token)
        if label is None:
            continue
        if entities and entities[-1]["last"] == i - 1 and entities[-1]["type"] == label:
            entities[-1]["last"] = i
            entities[-1]["text"] += " " + token
        else:
            entities.append({"first": i, "last": i, "text": token, "type": label})
    return entities


def completion(content: str, request: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL_STRING,
        "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def perfect_reply(request: dict[str, Any], n: int) -> Reply:
    """A correct answer; ids derive from the request, so a rerun gets byte-identical replies."""
    content = json.dumps({"entities": perfect_entities(tokens_of(request))})
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:12]
    body = completion(content, request, n)
    body["id"] = f"chatcmpl-{digest}"
    return Reply(body=body, headers={"x-request-id": f"req_{digest}"})


def is_verification(request: dict[str, Any]) -> bool:
    return request["messages"][0]["content"].startswith("You check named-entity labels")


def verification_reply(request: dict[str, Any], n: int, rejected: set[str]) -> Reply:
    """Confirms every listed entity except those whose text is in ``rejected``; ids derive from the request."""
    listed = re.findall(r'^(\d+)\. "(.*)" - ', request["messages"][-1]["content"], flags=re.MULTILINE)
    verdicts = [{"id": int(i), "correct": text not in rejected} for i, text in listed]
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:12]
    body = completion(json.dumps({"verdicts": verdicts}), request, n)
    body["id"] = f"chatcmpl-v{digest}"
    return Reply(body=body, headers={"x-request-id": f"req_v{digest}"})


def error_body(message: str, code: str | None = None, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 64  # the default backlog of 5 drops connects beyond it: 16-way tests would see 1 s stalls
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client killed mid-reply (kill -9 test) is expected, not a server fault


class LLMServer:
    """Start with ``with LLMServer() as server:``; ``server.base_url`` goes to the SDK's ``base_url``."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.scripted: list[Reply] = []
        self.responder: Callable[[dict[str, Any], int], Reply] = perfect_reply
        self.rejected: set[str] = set()  # entity texts the verifier answers "no" for
        self.log: list[tuple[str, str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.active = 0
        self.max_active = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.log if path.endswith("/chat/completions")]

    def script(self, *replies: Reply) -> None:
        self.scripted.extend(replies)

    def answer_chat(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            n = next(self._ids)
            scripted = self.scripted.pop(0) if self.scripted else None
        if scripted is not None:
            return scripted
        if is_verification(request):
            return verification_reply(request, n, self.rejected)
        return self.responder(request, n)

    def _run_batch(self, batch: dict[str, Any]) -> None:
        out, err = [], []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            item = json.loads(line)
            reply = self.answer_chat(item["body"])
            if reply.status == 200:
                response = {"status_code": 200, "request_id": f"req_b{len(out)}", "body": reply.body}
                out.append(
                    {"id": f"batch_req_{len(out)}", "custom_id": item["custom_id"], "response": response, "error": None}
                )
            else:
                response = {"status_code": reply.status, "body": reply.body}
                err.append({"id": f"batch_req_e{len(err)}", "custom_id": item["custom_id"], "response": response})
        for name, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                file_id = f"file-{name[:3]}{batch['id']}"
                self.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[name] = file_id
        batch["status"] = "completed"
        batch["request_counts"] = {"total": len(out) + len(err), "completed": len(out), "failed": len(err)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JSONHandler):
            def _send(self, reply: Reply) -> None:
                self.send_json(reply.status, reply.raw if reply.raw is not None else reply.body, reply.headers)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def do_POST(self) -> None:
                raw = self._body()
                if self.path.endswith("/chat/completions"):
                    request = json.loads(raw)
                    server.log.append(("POST", self.path, request))
                    with server._lock:
                        server.active += 1
                        server.max_active = max(server.max_active, server.active)
                    try:
                        reply = server.answer_chat(request)
                        time.sleep(server.latency_s + reply.delay_s)
                    finally:
                        with server._lock:
                            server.active -= 1
                    self._send(reply)
                elif self.path.endswith("/files"):
                    message = email.parser.BytesParser().parsebytes(
                        b"Content-Type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + raw
                    )
                    parts = {p.get_param("name", header="content-disposition"): p for p in message.get_payload()}
                    file_id = f"file-{next(server._ids)}"
                    server.files[file_id] = parts["file"].get_payload(decode=True)
                    server.log.append(("POST", self.path, {"purpose": parts["purpose"].get_payload()}))
                    size = len(server.files[file_id])
                    file_object = {"id": file_id, "object": "file", "bytes": size, "created_at": CREATED}
                    file_object.update(filename="input.jsonl", purpose="batch", status="processed")
                    self._send(Reply(body=file_object))
                elif self.path.endswith("/batches"):
                    request = json.loads(raw)
                    server.log.append(("POST", self.path, request))
                    batch_id = f"batch_{next(server._ids)}"
                    server.batches[batch_id] = {
                        "id": batch_id,
                        "object": "batch",
                        "endpoint": request["endpoint"],
                        "input_file_id": request["input_file_id"],
                        "completion_window": "24h",
                        "status": "validating",
                        "created_at": CREATED,
                        "output_file_id": None,
                        "error_file_id": None,
                    }
                    self._send(Reply(body=server.batches[batch_id]))
                else:
                    self._send(Reply(404, error_body(f"no route {self.path}")))

            def do_GET(self) -> None:
                server.log.append(("GET", self.path, None))
                match = re.search(r"/batches/([^/]+)$", self.path)
                if match and match.group(1) in server.batches:
                    batch = server.batches[match.group(1)]
                    if batch["status"] == "validating":
                        batch["status"] = "in_progress"
                    elif batch["status"] == "in_progress":
                        server._run_batch(batch)
                    self._send(Reply(body=batch))
                    return
                match = re.search(r"/files/([^/]+)/content$", self.path)
                if match and match.group(1) in server.files:
                    data = server.files[match.group(1)]
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._send(Reply(404, error_body(f"no route {self.path}")))

        return Handler
