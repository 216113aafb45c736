"""The fresh-machine demo end to end (minutes: marked slow); replays the recorded LLM replies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from offline_ner.demo import demo_dir


@pytest.mark.slow
def test_demo_runs_end_to_end_on_replayed_llm_replies(tmp_path: Path) -> None:
    if not (demo_dir() / "recordings.jsonl").is_file():
        pytest.skip("offline_ner/demo/recordings.jsonl has not been recorded yet (scripts/record_demo_llm.sh)")
    result = subprocess.run([sys.executable, "-m", "offline_ner.demo.run", "--work-dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=1800,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OFFLINE_NER_LLM_BASE_URL": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LLM: REPLAY of recorded SmolLM2-135M-Instruct" in result.stderr
    assert "held-out F1 (ONNX predictions):" in result.stderr
    assert (tmp_path / "demo" / "annotations.bundle").is_file()
    assert not (tmp_path / ".config").exists()  # the user's own trust store is never touched
