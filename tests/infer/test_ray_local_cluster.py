"""``predict --engine ray`` without ``--address`` starts a local Ray cluster for the one command and stops it before
returning: no Ray process it started outlives it. Its own module, so no other test's cluster is up when it runs
(tests/infer/test_ray.py keeps one up for its whole module). Skips when ray is not installed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli


def live_descendants() -> set[int]:
    """Processes below this one (children, their children ...) that have not exited (Linux /proc)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        if state not in ("Z", "X"):
            parent[int(stat.parent.name)] = int(ppid)
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_a_local_cluster_started_for_one_predict_is_stopped_when_it_returns(tiny_onnx_dir: Path,
                                                                            tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]' to run the Ray engine tests")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already up in this process, so predict would join it instead of starting one")
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": "Angela Merkel visited Paris."}) + "\n"
                              for i in range(4)), encoding="utf-8")
    before = live_descendants()
    result = CliRunner().invoke(cli, ["predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o",
                                      str(tmp_path / "ray.jsonl"), "--device", "cpu", "--precision", "fp32",
                                      "--engine", "ray", "--actors", "1", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(result.stdout)["engine"]["address"] == "local"
    assert not ray.is_initialized()
    assert live_descendants() - before == set(), "Ray processes outlived the predict that started them"
