"""The fresh-machine demo end to end (about a minute on 2 cores); replays the recorded LLM replies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from offline_ner.demo import demo_dir


def test_demo_runs_end_to_end_on_replayed_llm_replies(tmp_path: Path) -> None:
    assert (demo_dir() / "recordings.jsonl").is_file()  # shipped: the demo must run with no LLM at hand
    result = subprocess.run([sys.executable, "-m", "offline_ner.demo.walkthrough", "--work-dir", str(tmp_path / "demo")],
                            check=False, capture_output=True, text=True, timeout=1800,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OFFLINE_NER_LLM_BASE_URL": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LLM: REPLAY of recorded SmolLM2-135M-Instruct" in result.stderr
    f1 = re.search(r"held-out F1 \(ONNX predictions\): ([0-9.]+)", result.stderr)
    assert f1 is not None and float(f1.group(1)) > 0.4  # seeded run: about 0.65; chance is near 0
    assert (tmp_path / "demo" / "annotations.bundle").is_file()
    assert not (tmp_path / ".config").exists()  # the user's own trust store is never touched
