"""Loading CUDA from the nvidia pip wheels: onnxruntime's own loader runs, and what it cannot load is reported,
not printed (the engine puts it into its CUDA error)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from offline_ner.infer import session


@pytest.fixture
def fresh_preload():
    session.preload_cuda_libraries.cache_clear()
    yield session.preload_cuda_libraries
    session.preload_cuda_libraries.cache_clear()


def test_without_nvidia_wheels_nothing_is_loaded(fresh_preload, monkeypatch) -> None:
    monkeypatch.setattr(session.importlib.util, "find_spec", lambda name: None)
    assert fresh_preload() == ""


@pytest.mark.skipif(session.cuda_unavailable_reason() is None, reason="this machine has working CUDA libraries")
@pytest.mark.skipif(not session.cuda_build(), reason="CPU-only onnxruntime build: no CUDA libraries to look for")
def test_missing_cuda_libraries_are_reported_not_printed(fresh_preload, tmp_path: Path, monkeypatch, capsys) -> None:
    # an empty `nvidia` package: the wheels' namespace is there, their libraries are not
    (tmp_path / "nvidia").mkdir()
    (tmp_path / "nvidia" / "__init__.py").touch()
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("nvidia", None)
    report = fresh_preload()
    assert f"libcublas.so.{session.cuda_build().split('.')[0]}" in report
    assert capsys.readouterr().out == ""
