"""The package's shape: stages depend only on the shared core, the closed side never imports the connected side,
and each stage loads only the heavy libraries it needs (an inference host has no torch, the CLI starts fast).

Imports are read from the syntax tree, relative ones (``from ..train import x``) and imports through the package
root (``from offline_ner import train``) included; heavy libraries are checked by importing every module of a stage
in a fresh interpreter, so ``import torch`` added to any module (not only a package's ``__init__``) is caught.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import offline_ner

PACKAGE = Path(__file__).resolve().parents[1] / "offline_ner"
STAGES = ("data", "annotate", "bundle", "review", "train", "export", "infer")
SHARED = {"errors", "_fs", "_extras", "_quiet_warnings", "config", "hf_offline", "data", "contracts"}
# orchestration layers may combine stages
ORCHESTRATORS = {"cli", "experiment", "demo"}
ENTRY = {"__init__", "__main__"}

HEAVY = ("torch", "transformers", "optimum", "onnx", "onnxruntime", "openai", "matplotlib")
# what importing any module of each top-level part may load; anything else must be imported inside a function
ALLOWED_HEAVY: dict[str, set[str]] = {
    "data": set(),
    "annotate": {"openai"},
    "bundle": set(),
    "review": set(),  # ranks from a model's probabilities, which the train stage computes
    "train": {"torch", "transformers"},
    "export": {"torch", "transformers", "optimum", "onnx", "onnxruntime"},
    "infer": {"onnxruntime"},  # an inference host installs neither torch nor transformers
    "experiment": {"torch", "transformers", "matplotlib", "onnx", "onnxruntime", "optimum"},
    "demo": set(HEAVY) - {"openai"},  # the demo replays recorded LLM replies: no client library
    "cli": set(),  # every command imports its stage lazily: `offline-ner --help` stays fast
    "errors": set(),
    "contracts": set(),  # pure data: the formats stages hand each other
    "_fs": set(),
    "_extras": set(),  # names the extra to install when an optional import fails; imports none itself
    "_quiet_warnings": set(),
    "config": set(),
    "hf_offline": set(),
}


def _top_level_parts() -> set[str]:
    return {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative levels resolved against ``module``)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_parts(path: Path) -> set[str]:
    """The top-level parts of offline_ner (``train``, ``bundle``, ``errors``...) that ``path`` imports."""
    return parts_imported_by(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def parts_imported_by(source: str, module: str, is_package: bool = False) -> set[str]:
    tree = ast.parse(source)
    entry_points = offline_ner._STAGE_ENTRY_POINTS
    parts, top = set(), _top_level_parts()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            if target == "offline_ner":  # from offline_ner import train / verify_bundle / __version__
                for alias in node.names:
                    if alias.name in top:
                        parts.add(alias.name)
                    elif alias.name in entry_points:
                        parts.add(entry_points[alias.name].split(".")[1])
                continue
            names = [target]
        else:
            continue
        parts.update(name.split(".")[1] for name in names if name.startswith("offline_ner."))
    return parts


def test_every_top_level_part_is_a_stage_shared_core_or_orchestrator() -> None:
    assert _top_level_parts() - ENTRY == set(STAGES) | SHARED | ORCHESTRATORS
    assert set(ALLOWED_HEAVY) == _top_level_parts() - ENTRY


def test_each_stage_imports_only_the_shared_core_and_itself() -> None:
    violations = []
    for stage in STAGES:
        for path in (PACKAGE / stage).rglob("*.py"):
            for imported in imported_parts(path) - SHARED - {stage}:
                violations.append(f"{path.relative_to(PACKAGE)} imports offline_ner.{imported}")
    assert violations == []


def test_the_shared_core_imports_no_stage_and_no_orchestrator() -> None:
    core = [PACKAGE / f"{name}.py" for name in SHARED if (PACKAGE / f"{name}.py").is_file()]
    violations = [f"{p.name} imports offline_ner.{i}" for p in core for i in imported_parts(p) - SHARED]
    assert violations == []


def test_the_closed_side_orchestrator_never_imports_the_connected_side() -> None:
    assert [p for p in (PACKAGE / "experiment").rglob("*.py") if "annotate" in imported_parts(p)] == []


@pytest.mark.parametrize(
    "source",
    [
        "from offline_ner import train\n",
        "from offline_ner import verify_bundle\n",
        "from ..train import trainer\n",
        "from .. import export\n",
        "import offline_ner.infer.engine\n",
    ],
)
def test_import_reader_sees_relative_root_and_dotted_imports(source: str) -> None:
    assert parts_imported_by(source, "offline_ner.data.probe") - SHARED - {"data"}, source


def _heavy_loaded_by(part: str) -> list[str]:
    """Import every module of ``part`` in a fresh interpreter; the heavy libraries that are then loaded."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"root = importlib.import_module('offline_ner.{part}')\n"
        "for info in pkgutil.walk_packages(getattr(root, '__path__', []), root.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout)


@pytest.mark.parametrize("part", sorted(ALLOWED_HEAVY))
def test_importing_every_module_loads_only_the_heavy_libraries_its_part_may_use(part: str) -> None:
    assert set(_heavy_loaded_by(part)) <= ALLOWED_HEAVY[part]


def test_importing_the_package_and_the_cli_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, offline_ner, offline_ner.cli.main\n"
        f"print([m for m in {list(HEAVY)!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- stages meet only through the shared core's contracts -------------------------------------------------------

CONTRACTS = PACKAGE / "contracts"
# file names one stage writes and another reads: named only in the contract that defines the format
SHARED_FORMAT_NAMES = ("export.json",)
# the types a public entry point may not return: a stage hands the CLI (or another stage) a typed object
UNTYPED_RETURNS = ("dict", "Dict", "Mapping", "MutableMapping", "Any", "object")


def _code_strings(tree: ast.AST) -> list[str]:
    """String constants that are code, not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _private_modules_imported(path: Path) -> set[str]:
    """Modules with a private (``_name``) component below a top-level part that ``path`` imports."""
    module, is_package = _module_name(path), path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
        else:
            continue
        found.update(t for t in targets if t.startswith("offline_ner.") and any(
            part.startswith("_") and not part.startswith("__") for part in t.split(".")[2:]))
    return found


def test_no_module_imports_another_parts_private_module() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        part = _module_name(path).split(".")[1] if "." in _module_name(path) else ""
        for target in _private_modules_imported(path):
            if target.split(".")[1] != part:
                violations.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert violations == []


def test_the_contracts_import_only_the_errors_and_no_stage() -> None:
    for path in CONTRACTS.rglob("*.py"):
        assert imported_parts(path) <= {"errors", "contracts"}, path.name


def test_formats_shared_by_two_stages_are_named_only_in_the_contracts() -> None:
    named = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        if CONTRACTS not in path.parents
        for name in SHARED_FORMAT_NAMES
        if name in _code_strings(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert named == []


def test_every_contract_is_a_frozen_dataclass_that_writes_json() -> None:
    import dataclasses

    from offline_ner import contracts

    classes = [getattr(contracts, name) for name in contracts.__all__ if isinstance(getattr(contracts, name), type)]
    assert classes
    for cls in classes:
        if issubclass(cls, Exception):
            continue
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__
    for name in ("ExportManifest", "VerificationReport", "AnnotationSummary", "TrainMetrics", "PhaseResult",
                 "EpochShare"):
        assert callable(getattr(contracts, name).to_json) and callable(getattr(contracts, name).from_json)


def _entry_point_returns() -> dict[str, str]:
    """Each public entry point function (``offline_ner._STAGE_ENTRY_POINTS``) -> its return annotation."""
    returns = {}
    for name, module in offline_ner._STAGE_ENTRY_POINTS.items():
        folder = PACKAGE / module.split(".")[1]
        for path in folder.rglob("*.py"):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.FunctionDef) and node.name == name and node.returns is not None:
                    returns[name] = ast.unparse(node.returns)
    return returns


def test_stage_entry_points_return_typed_objects_not_dicts() -> None:
    returns = _entry_point_returns()
    assert {"annotate", "verify_bundle", "export_onnx", "train", "evaluate_model"} <= set(returns)
    untyped = {name: r for name, r in returns.items() if r.split("[")[0].split(".")[-1] in UNTYPED_RETURNS}
    assert untyped == {}


def test_the_cli_formats_contracts_instead_of_indexing_their_json() -> None:
    """A command prints ``contract.to_json()``; it never indexes that JSON (the typed fields say the same)."""
    indexing = []
    for path in (PACKAGE / "cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "to_json"
            ):
                indexing.append(f"{path.name}:{node.lineno}")
    assert indexing == []


def _field_annotation(cls_name: str, field_name: str, folder: Path) -> str | None:
    """The annotation of ``cls_name.field_name`` (a class-level annotated field) in ``folder``'s modules."""
    for path in folder.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name == cls_name:
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) \
                            and item.target.id == field_name:
                        return ast.unparse(item.annotation)
    return None


def test_training_hands_on_its_metrics_as_the_train_metrics_contract() -> None:
    assert _field_annotation("TrainResult", "metrics", PACKAGE / "train") == "TrainMetrics"


def _indexes_metrics(node: ast.AST) -> bool:
    """``<...>metrics[...]`` or ``<...>metrics.get(...)``: training metrics read as JSON instead of as fields."""
    if isinstance(node, ast.Subscript):
        target = node.value
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        target = node.func.value
    else:
        return False
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return name.endswith("metrics")


def test_orchestrators_read_train_metrics_fields_not_json_keys() -> None:
    """The CLI, experiment runner and demo read ``TrainMetrics``' typed fields; none indexes metrics by string."""
    indexing = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for part in sorted(ORCHESTRATORS)
        for path in (PACKAGE / part).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _indexes_metrics(node)
    ]
    assert indexing == []


@pytest.mark.parametrize("source", ['metrics["steps"]\n', 'result.metrics.get("best_dev_f1")\n',
                                    'result.metrics["phases"][0]\n'])
def test_metrics_reader_sees_indexing_and_get(source: str) -> None:
    assert any(_indexes_metrics(node) for node in ast.walk(ast.parse(source)))


# --- rooms of one job: small modules, no import circle -----------------------------------------------------------

MAX_MODULE_LINES = 500  # past this a module holds more than one job (train/trainer.py held twelve classes at 838)


def test_no_module_is_longer_than_the_limit() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _import_time_targets(path: Path) -> set[str]:
    """The package modules ``path`` imports when it is loaded: top-level statements, not functions or
    ``if TYPE_CHECKING`` blocks. ``from package import module`` counts as importing that module."""
    module, is_package = _module_name(path), path.name == "__init__.py"
    found: set[str] = set()
    pending: list[ast.stmt] = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in _MODULES else base for a in node.names)
    return {name for name in found if name in _MODULES}


_MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle in ``graph`` (module -> modules it imports), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_import_circle_between_the_package_modules() -> None:
    graph = {name: _import_time_targets(path) - {name} for name, path in _MODULES.items()}
    assert _cycle(graph) == []


def test_the_circle_finder_sees_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
