"""Throughput of ``annotate`` with 16-way concurrency vs sequential, against a local server with 200 ms latency.

Both runs go through the whole real path (openai SDK over HTTP, journal, parse, align, annotation folder) with
fresh journals, in one process, side by side; the ratio is what matters, not the absolute numbers.

    python scripts/bench_annotate.py            # 64 sentences
    python scripts/bench_annotate.py --records 128 --latency-ms 200
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from offline_ner.annotate import AnnotateConfig, Journal, annotate, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.client import LLMClient


def serve(latency_s: float, port: int = 0) -> ThreadingHTTPServer:
    """A minimal chat-completions endpoint on 127.0.0.1 (``port`` 0: any free port): waits ``latency_s``, answers
    that token 0 is a person."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every small reply

        def log_message(self, *args: object) -> None:
            return

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            first = re.search(r"Tokens: 0:(\S+)", request["messages"][-1]["content"]).group(1)
            time.sleep(latency_s)
            content = json.dumps({"entities": [{"first": 0, "last": 0, "text": first, "type": "PER"}]})
            message = {"role": "assistant", "content": content}
            body = json.dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 1_732_000_000,
                    "model": "bench-model",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed_run(cfg: AnnotateConfig, input_path: Path, work: Path, name: str) -> float:
    plan = plan_run(load_inputs([input_path]), cfg, load_template("fewshot_conll"))
    journal = Journal(work / f"{name}.sqlite")
    started = time.perf_counter()
    summary = annotate(plan, out=work / name, journal=journal, client=LLMClient(cfg), prices=load_prices(None))
    elapsed = time.perf_counter() - started
    journal.close()
    assert summary.this_run is not None and summary.this_run.sent == len(plan.requests), summary.this_run
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    server = serve(args.latency_ms / 1000)
    base = AnnotateConfig(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", model="bench-model")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        input_path = work / "bench.jsonl"  # unlabelled: no QA, so only the requests are timed
        lines = (json.dumps({"id": f"s{i}", "tokens": [f"Name{i}", "said", "hello"]}) for i in range(args.records))
        input_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        sequential = timed_run(dataclasses.replace(base, concurrency=1), input_path, work, "sequential")
        parallel = timed_run(dataclasses.replace(base, concurrency=args.concurrency), input_path, work, "parallel")
    server.shutdown()
    print(f"records={args.records} latency={args.latency_ms:.0f}ms")
    print(f"sequential:     {sequential:7.2f} s  {args.records / sequential:7.1f} records/s")
    print(f"concurrency={args.concurrency}: {parallel:7.2f} s  {args.records / parallel:7.1f} records/s")
    print(f"speed-up: {sequential / parallel:.1f}x (ideal {min(args.concurrency, args.records)}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
