"""An inference host installs offline-ner[predict] only (issue 29): ``predict`` on raw text loads none of the
training stack (spaCy, torch, transformers, matplotlib, scikit-learn), and without any ONNX Runtime the error names
the extra to install.

Each case runs the real CLI in a fresh interpreter and reports ``sys.modules`` when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from offline_ner.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("spacy", "torch", "transformers", "matplotlib", "sklearn", "seqeval", "optimum", "onnx")
CHILD = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: print("loaded:", json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr))
for blocked in sys.argv[1].split(","):
    if blocked:
        sys.modules[blocked] = None  # as on a host without it: "import <blocked>" raises ModuleNotFoundError
from offline_ner.cli.main import main
main(sys.argv[2:])
"""


def run_cli(*args: str, blocked: str = "") -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(heavy=HEAVY), blocked, *args], check=False,
                          capture_output=True, text=True, env=env, timeout=300)
    loaded = next(json.loads(line.removeprefix("loaded:")) for line in proc.stderr.splitlines()
                  if line.startswith("loaded:"))
    return proc, loaded


def test_predict_on_raw_text_never_imports_spacy_or_the_training_stack(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "news.txt").write_text("Angela Merkel met Siemens staff in Paris. Nothing here.\n", encoding="utf-8")
    proc, loaded = run_cli("predict", "--model", str(tiny_onnx_dir), "--input", str(tmp_path / "news.txt"),
                           "-o", str(tmp_path / "entities.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert loaded == []
    assert len((tmp_path / "entities.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_predict_without_an_onnx_runtime_names_the_extra_to_install(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "news.txt").write_text("Angela Merkel met Siemens staff in Paris.\n", encoding="utf-8")
    proc, _ = run_cli("predict", "--model", str(tiny_onnx_dir), "--input", str(tmp_path / "news.txt"),
                      "-o", str(tmp_path / "entities.jsonl"), blocked="onnxruntime")
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert 'pip install "offline-ner[predict]"' in proc.stderr and 'offline-ner[gpu]' in proc.stderr
    assert not (tmp_path / "entities.jsonl").exists()
