"""kNN demonstrations (the real all-MiniLM-L6-v2 encoder) and self-verification through the CLI: the known nearest
demonstrations are chosen, and two kill -9s (during extraction, then during verification) repeat no request and
end in the same bytes as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from offline_ner.annotate import load_template, request_key
from offline_ner.annotate.encoder import MiniLMEncoder
from offline_ner.annotate.retrieve import knn_demonstrations
from offline_ner.annotate.self_verification import PROMPT_SHA256 as VERIFY_PROMPT_SHA256
from offline_ner.data import Record
from tests.annotate.llm_server import LLMServer, is_verification
from tests.annotate.test_resume_after_kill import journal_keys

pytestmark = pytest.mark.slow  # exports the encoder to ONNX once (~20 s on two cores)
N_ITEMS = 24
POOL = """Shares O
of O
Acme B-ORG
rose O
on O
Monday O

The O
striker O
scored O
twice O
for O
Arsenal B-ORG

Heavy O
rain O
flooded O
London B-LOC

Anne B-PER
Murray I-PER
sang O
in O
Paris B-LOC
"""


@pytest.fixture(scope="module")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("encoder-cache")
    MiniLMEncoder(cache_dir=cache)  # export once for the module
    return cache


def test_minilm_knn_picks_the_sentences_nearest_in_meaning(encoder_cache: Path) -> None:
    pool = [
        Record("p0", ("Shares", "of", "Acme", "rose", "on", "Monday"), ("O", "O", "B-ORG", "O", "O", "O")),
        Record("p1", ("The", "striker", "scored", "twice", "for", "Arsenal"), ("O",) * 5 + ("B-ORG",)),
        Record("p2", ("Heavy", "rain", "flooded", "London"), ("O", "O", "O", "B-LOC")),
    ]
    inputs = [
        Record("t0", ("Storms", "brought", "floods", "to", "Paris")),
        Record("t1", ("Stocks", "of", "Siemens", "fell", "on", "Friday")),
        Record("t2", ("Ronaldo", "netted", "a", "goal", "for", "Madrid")),
    ]
    chosen = knn_demonstrations(inputs, pool, k=1, encoder=MiniLMEncoder(cache_dir=encoder_cache))
    assert [demos[0].id for demos in chosen] == ["p2", "p0", "p1"]


def key_of(sent: dict) -> str:
    """The journal key of a request as the server received it (the key leaves out the response_format sent)."""
    body = {k: v for k, v in sent.items() if k != "response_format"}
    material = {**body, "response_format_preference": "json_schema"}
    template_sha = VERIFY_PROMPT_SHA256 if is_verification(sent) else load_template("fewshot_conll").sha256
    return request_key(material, template_sha256=template_sha)


def cli(server: LLMServer, inputs: Path, demos: Path, out: Path, cache: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "offline_ner", "annotate", "run", str(inputs), "--base-url", server.base_url,
        "--demos", str(demos), "--demos-select", "knn", "--n-demos", "2", "--verify", "--encoder-cache", str(cache),
        "--concurrency", "2", "--out", str(out), "--journal", str(out) + ".sqlite", "--json",
    ]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, "OPENAI_API_KEY": "sk-test"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def kill_after(process: subprocess.Popen[bytes], journal: Path, rows: int) -> None:
    deadline = time.monotonic() + 120
    while len(journal_keys(journal)) < rows and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def test_knn_and_verification_resume_after_kill_with_no_repeated_request(encoder_cache: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "items.conll"
    inputs.write_text(
        "".join(f"item{i} O\nvisited O\nLondon B-LOC\n. O\n\n" if i % 2 else f"item{i} O\nsaw O\nAcme B-ORG\n. O\n\n"
                for i in range(N_ITEMS)),
        encoding="utf-8",
    )  # fmt: skip
    demos = tmp_path / "train.conll"
    demos.write_text(POOL, encoding="utf-8")
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    journal = Path(str(killed) + ".sqlite")
    with LLMServer(latency_s=0.05) as server:
        server.rejected = {"London"}
        kill_after(cli(server, inputs, demos, killed, encoder_cache), journal, 6)  # during extraction
        finished_1, sent_1 = journal_keys(journal), len(server.chat_requests())
        assert 6 <= len(finished_1) < N_ITEMS
        kill_after(cli(server, inputs, demos, killed, encoder_cache), journal, N_ITEMS + 6)  # during verification
        finished_2, sent_2 = journal_keys(journal), len(server.chat_requests())
        assert N_ITEMS + 6 <= len(finished_2) < 2 * N_ITEMS
        last = cli(server, inputs, demos, killed, encoder_cache)
        assert last.wait(timeout=300) == 0, last.stderr.read().decode()
        keys = [key_of(r) for r in server.chat_requests()]
        # no request whose reply was journalled before a kill is sent again (only those in flight are)
        assert not finished_1 & set(keys[sent_1:]) and not finished_2 & set(keys[sent_2:])
        assert len(set(keys)) == 2 * N_ITEMS == len(journal_keys(journal))
        assert len(keys) - len(set(keys)) <= 2 * 2  # at most the two in flight (--concurrency 2) at each kill
        uninterrupted = cli(server, inputs, demos, fresh, encoder_cache)
        assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read().decode()
    for name in ("records.jsonl", "provenance.json", "qa.json"):
        assert (killed / name).read_bytes() == (fresh / name).read_bytes(), name
    records = [json.loads(line) for line in (killed / "records.jsonl").read_text().splitlines()]
    assert records[1]["tags"] == ["O", "O", "O", "O"] and records[0]["tags"] == ["O", "O", "B-ORG", "O"]
    assert records[1]["provenance"]["demonstrations"][-1] == "train:2"  # "Heavy rain flooded London" nearest


def test_a_sentences_vector_does_not_depend_on_its_batch(encoder_cache: Path) -> None:
    encoder = MiniLMEncoder(cache_dir=encoder_cache)
    texts = ["EU rejects German call to boycott British lamb .", "Peter Blackburn", "BRUSSELS 1996-08-22", "Yes ."]
    together = encoder.embed(texts)
    alone = np.concatenate([encoder.embed([text]) for text in texts])
    assert together.shape == (4, 384) and np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
