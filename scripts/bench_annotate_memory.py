"""Peak memory of ``offline-ner annotate run`` as the number of sentences grows, against a local instant server.

Writes N distinct unlabelled sentences as JSONL and fills a journal with the replies the instant server of
``bench_annotate.py`` gives (one transaction: sending 200k requests through a journal that fsyncs each reply takes
hours on a shared disk), then runs the real CLI in a child process under ``/usr/bin/time -v``, so only the CLI's
own peak RSS is measured: it reads the inputs, plans every request, finds each reply in the journal (the server
answers any request it still sends) and writes the folder. ``--send`` skips the filling, so every request goes
over HTTP. ``--repo`` runs another checkout's code (e.g. a worktree of an older commit) on the same input and
journal, to compare outputs byte for byte (the sha256 of each file is printed).

    nice -n 10 python scripts/bench_annotate_memory.py --records 50000 --work /tmp/mem50k
    nice -n 10 python scripts/bench_annotate_memory.py --records 50000 --work /tmp/mem50k --repo /tmp/annot-base \
        --label base
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_annotate import serve  # the same instant server

REPO = Path(__file__).resolve().parents[1]


def write_input(path: Path, records: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(records):
            handle.write(json.dumps({"id": f"s{i}", "tokens": [f"Name{i}", "said", "hello", "to", f"Place{i}"]}) + "\n")


def fill_journal(input_path: Path, journal_path: Path, base_url: str) -> None:
    """Store, for every request the CLI will plan, the reply the instant server would send (as the run stores it)."""
    from offline_ner.annotate import AnnotateConfig, load_inputs, load_template, plan_run
    from offline_ner.annotate.journal import Journal, canonical_json_text

    cfg = AnnotateConfig(base_url=base_url, model="bench-model")
    plan = plan_run(load_inputs([input_path]), cfg, load_template(cfg.template), [])
    rows = []
    for item in plan.records():
        record, (key,) = item.record, item.keys
        content = json.dumps({"entities": [{"first": 0, "last": 0, "text": record.tokens[0], "type": "PER"}]})
        body = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_732_000_000, "model": "bench-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }  # fmt: skip
        entry = {"body": body, "request_id": None, "response_format": cfg.response_format, "attempts": 1}
        rows.append((key, canonical_json_text(entry)))
    Journal(journal_path).close()  # the schema
    with sqlite3.connect(journal_path) as db:
        db.executemany("INSERT OR REPLACE INTO exchanges VALUES (?, ?)", rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--work", type=Path, required=True, help="Folder for the input, journal and output.")
    parser.add_argument("--repo", type=Path, default=REPO, help="Checkout whose offline_ner runs (default: this).")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=18431, help="Fixed, so provenance.json's base_url compares.")
    parser.add_argument("--label", default="new", help="Output folder name under --work.")
    parser.add_argument("--send", action="store_true", help="Send every request instead of filling the journal.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    input_path = args.work / "input.jsonl"
    if not input_path.exists():
        write_input(input_path, args.records)
    base_url = f"http://127.0.0.1:{args.port}/v1"
    journal = args.work / (f"{args.label}.journal.sqlite" if args.send else "filled.journal.sqlite")
    if not args.send and not journal.exists():
        started = time.perf_counter()
        fill_journal(input_path, journal, base_url)
        print(f"journal filled in {time.perf_counter() - started:.0f}s")
    server = serve(0.0, args.port)
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "offline_ner", "annotate", "run", str(input_path),
        "--base-url", base_url, "--model", "bench-model", "--concurrency", str(args.concurrency),
        "--out", str(args.work / args.label), "--journal", str(journal), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(args.repo.resolve()), "OPENAI_API_KEY": "bench", "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    # cwd: `python -m` puts the working folder first on sys.path, ahead of PYTHONPATH
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=args.repo)
    wall = time.perf_counter() - started
    server.shutdown()
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    summary = json.loads(proc.stdout) if proc.stdout.strip() else {}
    run = summary.get("this_run") or {}
    print(f"records={args.records} repo={args.repo} exit={proc.returncode} wall={wall:.0f}s "
          f"peak_rss={peak_kb / 1024:.0f}MB records_out={summary.get('records_out')} sent={run.get('sent')} "
          f"journal_hits={run.get('journal_hits')}")  # fmt: skip
    for name in ("records.jsonl", "provenance.json"):
        path = args.work / args.label / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
        print(f"  {name} sha256 {digest}")
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
