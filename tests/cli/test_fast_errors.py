"""Config and data errors are found before torch is imported, so they cost well under 2 s, not 10-25 s.

Each case runs the real CLI in a child process (a fresh interpreter, as a user would) and checks ``sys.modules``
when it exits; the seconds are measured by ``scripts/bench_errors.py``, never here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from offline_ner.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import atexit, sys
atexit.register(lambda: print("heavy:", sorted(m for m in ("torch", "transformers", "onnxruntime", "optimum")
                                              if m in sys.modules), file=sys.stderr))
from offline_ner.cli.main import main
main(sys.argv[1:])
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", CHILD, *args], check=False, capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)


def test_misspelt_config_key_fails_before_torch_is_imported(tmp_path: Path) -> None:
    proc = run_cli("train", "--config", "gold", "--set", "epochz=3", "--out", str(tmp_path / "run"))
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert "unknown key(s) epochz" in proc.stderr
    assert "heavy: []" in proc.stderr


@pytest.mark.parametrize("problem", ["missing", "malformed"])
def test_bad_training_data_fails_before_torch_is_imported(tmp_path: Path, problem: str) -> None:
    data = tmp_path / "gold.conll"
    if problem == "malformed":
        data.write_text("EU B-ORG\nrejects NOT-A-TAG\n", encoding="utf-8")
    proc = run_cli("train", "--config", "gold", "--gold", str(data), "--dev", str(data), "--out", str(tmp_path / "r"))
    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert str(data) in proc.stderr
    assert "heavy: []" in proc.stderr


def test_evaluate_with_missing_data_fails_before_torch_is_imported(tmp_path: Path) -> None:
    proc = run_cli("evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "missing.conll"))
    assert proc.returncode == ExitCode.DATA, proc.stderr
    assert "heavy: []" in proc.stderr
