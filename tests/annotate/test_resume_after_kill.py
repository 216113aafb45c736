"""kill -9 in the middle of a real CLI run, restart: no finished item is requested again, output byte-identical."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig, Journal, annotate, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.client import LLMClient
from tests.annotate.llm_server import LLMServer, tokens_of

N_ITEMS = 40


def write_input(path: Path) -> None:
    path.write_text("".join(f"item{i} O\nrejects O\nEU B-ORG\n. O\n\n" for i in range(N_ITEMS)), encoding="utf-8")


def cli_run(server: LLMServer, input_path: Path, out: Path, journal: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "offline_ner", "annotate", "run", str(input_path), "--base-url", server.base_url,
        "--concurrency", "2", "--out", str(out), "--journal", str(journal), "--json",
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def journal_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        with sqlite3.connect(path) as db:
            return {row[0] for row in db.execute("SELECT key FROM exchanges")}
    except sqlite3.OperationalError:  # the table is not created yet
        return set()


def item_of(request: dict) -> str:
    return tokens_of(request)[0]


def test_resume_after_kill_repeats_no_llm_call_and_writes_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    input_path = tmp_path / "items.conll"
    write_input(input_path)
    plan = plan_run(load_inputs([input_path]), AnnotateConfig(), load_template("fewshot_conll"))
    item_by_key = {key: f"item{i}" for i, (key,) in enumerate(plan.keys_by_record)}
    with LLMServer(latency_s=0.05) as server:
        journal = tmp_path / "killed.sqlite"
        process = cli_run(server, input_path, tmp_path / "killed", journal)
        deadline = time.monotonic() + 60
        while len(journal_keys(journal)) < 8 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        finished = {item_by_key[key] for key in journal_keys(journal)}
        assert 8 <= len(finished) < N_ITEMS
        requests_before = len(server.chat_requests())

        restarted = cli_run(server, input_path, tmp_path / "killed", journal)
        assert restarted.wait(timeout=120) == 0, restarted.stderr.read().decode()
        again = [item_of(r) for r in server.chat_requests()[requests_before:]]
        assert not finished & set(again)
        assert len(again) == N_ITEMS - len(finished)

        # the same run, never interrupted (in-process: one interpreter start less)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        fresh_cfg = dataclasses.replace(plan.cfg, base_url=server.base_url)
        fresh_plan = dataclasses.replace(plan, cfg=fresh_cfg)
        fresh_journal = Journal(tmp_path / "fresh.sqlite")
        annotate(
            fresh_plan,
            out=tmp_path / "fresh",
            journal=fresh_journal,
            client=LLMClient(fresh_cfg),
            prices=load_prices(None),
        )
        fresh_journal.close()
    for name in ("records.jsonl", "provenance.json", "qa.json"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
