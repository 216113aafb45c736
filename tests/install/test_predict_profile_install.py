"""An inference host's install (issue 29): the ``predict`` runtime bundle, installed with ``install.sh`` in a network
namespace with no interfaces, gives a venv that imports ``offline_ner.infer``, runs ``predict`` on raw text and
``evaluate`` on an ONNX export, and holds none of torch, transformers, spaCy, matplotlib or
onnxruntime-gpu.

As in ``test_closed_network_install``, the wheels come from this environment (``local_wheels``), so the same pip
resolution for the target runs without downloads. Slow (a minute: the bundle is built, verified and installed);
CI runs it in its slow step.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from offline_ner.bundle.wheelhouse import wheel_requirements
from offline_ner.data import write_conll
from tests.install.local_wheels import repack_closure
from tests.install.test_closed_network_install import TOOLS, _runs, offline_ner, own_wheel
from tests.train.conftest import toy_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(tool) is None for tool in TOOLS), reason=f"needs {', '.join(TOOLS)}"),
    pytest.mark.skipif(not platform.libc_ver()[1], reason="needs a glibc host (runtime bundles target manylinux)"),
]
NOT_ON_AN_INFERENCE_HOST = ("torch", "transformers", "spacy", "matplotlib", "onnxruntime-gpu", "optimum")

CLOSED_SIDE = """
set -eu
tar -xOf predict.bundle payload/install.sh > install.sh
sh install.sh predict.bundle --pubkey release.pub.pem --venv "$VENV" --python "$PYTHON"
"$VENV/bin/python" -c "import offline_ner.infer"
"$VENV/bin/offline-ner" predict --model onnx --input news.txt -o entities.jsonl
"$VENV/bin/offline-ner" evaluate --model onnx --data test.conll --mode strict --json > evaluate.json
"$VENV/bin/python" -m pip list --format json > pip-list.json
"""


def test_the_predict_bundle_installs_an_inference_host_without_the_training_stack(
    tmp_path: Path, tiny_onnx_dir: Path
) -> None:
    if not _runs("unshare", "-rn", "true"):
        pytest.skip("cannot create a network namespace here (unshare -rn)")
    try:
        distribution("onnxruntime")
    except PackageNotFoundError:
        pytest.skip("this environment has no CPU onnxruntime to repack (scripts/setup.sh installs offline-ner[all])")
    connected, closed = tmp_path / "connected", tmp_path / "closed"
    connected.mkdir()
    closed.mkdir()
    py = "%d.%d" % sys.version_info[:2]  # noqa: UP031

    offline_ner("keys", "generate", "--out", "keys", "--name", "release", cwd=connected)
    wheel = own_wheel(tmp_path / "dist")
    mirror = tmp_path / "local-mirror"
    repack_closure(wheel_requirements(wheel), mirror, extras=("predict",))
    built = offline_ner("bundle", "runtime", "--python", py, "--glibc", platform.libc_ver()[1], "--profile", "predict",
                        "--no-index", "--find-links", str(mirror), "--project", str(wheel), "--sequence", "1",
                        "--key", "keys/release.key", "-o", "predict.bundle", cwd=connected)
    assert built["target"]["profile"] == "predict"  # type: ignore[index]

    shutil.move(connected / "predict.bundle", closed / "predict.bundle")
    shutil.copy(connected / "keys" / "release.pub.pem", closed / "release.pub.pem")
    shutil.copytree(tiny_onnx_dir, closed / "onnx")
    write_conll(toy_records(6, "t", 4), closed / "test.conll")
    (closed / "news.txt").write_text("Angela Merkel met Siemens staff in Paris.\nNothing here.\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PIP_CONFIG_FILE": os.devnull,
           "TMPDIR": str(tmp_path), "VENV": str(tmp_path / "opt-offline-ner"),
           "PYTHON": str(Path(sys.base_prefix) / "bin" / f"python{py}")}
    (closed / "closed-side.sh").write_text(CLOSED_SIDE, encoding="utf-8")
    result = subprocess.run(["unshare", "-rn", "sh", "closed-side.sh"], cwd=closed, env=env, check=False,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-6000:]

    assert "(profile predict, cpu)" in result.stderr
    assert len((closed / "entities.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    report = json.loads((closed / "evaluate.json").read_text(encoding="utf-8"))
    assert report["mode"] == "strict" and report["records"] == 6 and 0.0 <= report["f1"] <= 1.0
    installed = {canonicalize_name(package["name"]) for package in json.loads((closed / "pip-list.json").read_text())}
    assert "onnxruntime" in installed and "offline-ner" in installed
    assert not installed & set(NOT_ON_AN_INFERENCE_HOST), sorted(installed)
