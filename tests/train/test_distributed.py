"""Two training processes (DDP over gloo, started by ``offline-ner train --nproc 2``) learn what one process learns.

The runs start real torchrun processes (about 2 minutes in all), so they are ``slow``: .ci/run runs them as a step
of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offline_ner.train.distributed import torchrun_command

SETTINGS = ["regimen=distilled_then_gold", "batch_size=8", "max_length=24", "learning_rate=0.005", "torch_threads=1",
            "phase_epochs=[2, 4]", "logging_steps=1"]


@pytest.fixture(scope="module")
def no_dropout_bert(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT without dropout: one process and two then compute the same sums, up to float rounding."""
    out = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    shutil.copytree(tiny_bert_dir, out, dirs_exist_ok=True)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


def command(model: Path, files: dict[str, Path], out: Path, nproc: int) -> list[str]:
    settings = [*SETTINGS, f"base_model={model}", *(f"{role}={path}" for role, path in files.items())]
    args = ["train", "--quiet", "--json", "--out", str(out), "--nproc", str(nproc)]
    return [sys.executable, "-m", "offline_ner", *args, *(arg for s in settings for arg in ("--set", s))]


def train_cli(model: Path, files: dict[str, Path], out: Path, nproc: int) -> dict:
    done = subprocess.run(command(model, files, out, nproc), check=False, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["metrics"]


@pytest.fixture(scope="module")
def one_and_two(no_dropout_bert: Path, toy_files: dict[str, Path],
                tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    folder = tmp_path_factory.mktemp("ddp")
    one = train_cli(no_dropout_bert, toy_files, folder / "one", nproc=1)
    two = train_cli(no_dropout_bert, toy_files, folder / "two", nproc=2)
    return one, two, folder / "two"


@pytest.mark.slow
def test_two_processes_reach_the_dev_f1_of_one_at_the_same_global_batch_and_steps(
    one_and_two: tuple[dict, dict, Path],
) -> None:
    one, two, _ = one_and_two
    assert two["processes"] == 2 and one["processes"] == 1
    assert [p["steps"] for p in two["phases"]] == [p["steps"] for p in one["phases"]] == [6, 12]
    assert one["best_dev_f1"] > 0.5  # it learned something, so the comparison means something
    assert abs(two["best_dev_f1"] - one["best_dev_f1"]) <= 0.003


@pytest.mark.slow
def test_two_processes_train_on_disjoint_halves_of_each_global_batch(one_and_two: tuple[dict, dict, Path]) -> None:
    one, two, out = one_and_two
    # every record of every epoch is counted once over both ranks, and the share follows the regimen
    for phase_one, phase_two in zip(one["phases"], two["phases"]):
        assert phase_two["epochs"] == phase_one["epochs"]
        assert all(e["gold"] + e["distilled"] == 24 for e in phase_two["epochs"])
    assert phase_two["train_tokens"] == phase_one["train_tokens"]
    log = (out / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert sum(json.loads(line)["event"] == "start" for line in log) == 1  # rank 0 alone writes


@pytest.mark.slow
def test_two_processes_resume_after_kill(no_dropout_bert: Path, toy_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(command(no_dropout_bert, toy_files, out, nproc=2), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    phase_dir = out / "checkpoints" / "phase-1-distilled"
    deadline = time.monotonic() + 180
    while not list(phase_dir.glob("checkpoint-*/share_counts.json")):
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # torchrun and both workers, with no chance to clean up
    process.wait()
    assert not (out / "metrics.json").exists()
    metrics = train_cli(no_dropout_bert, toy_files, out, nproc=2)
    assert metrics["resumed"]
    assert [p["steps"] for p in metrics["phases"]] == [6, 12]
    for phase in metrics["phases"]:
        assert all(e["gold"] + e["distilled"] == 24 for e in phase["epochs"])  # counted once across the kill


def test_torchrun_command_runs_this_cli_in_n_processes() -> None:
    cmd = torchrun_command(3, ["train", "--out", "x"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=3" in cmd and cmd[-4:] == ["offline_ner", "train", "--out", "x"]
