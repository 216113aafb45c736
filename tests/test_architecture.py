"""The package's shape: stages depend only on the shared core, closed side never imports the connected side."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "offline_ner"
STAGES = ("data", "annotate", "bundle", "train", "export", "infer")
SHARED = {"errors", "_fs", "config", "offline", "data"}
# orchestration layers may combine stages
ORCHESTRATORS = {"cli", "experiment", "demo"}


def imported_offline_ner_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("offline_ner.") and name.count(".") >= 1}


def test_each_stage_imports_only_the_shared_core_and_itself() -> None:
    violations = []
    for stage in STAGES:
        for path in (PACKAGE / stage).rglob("*.py"):
            for imported in imported_offline_ner_modules(path) - SHARED - {stage}:
                violations.append(f"{path.relative_to(PACKAGE)} imports offline_ner.{imported}")
    assert violations == []


def test_importing_the_package_and_the_cli_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, offline_ner, offline_ner.cli.main\n"
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'openai') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
