"""What a user sees and keeps from `offline-ner train` and `export`, run as a user runs them with stderr in a file:
one console line per dev evaluation, our one-line notes instead of third-party warnings, no progress-bar
fragments, TensorBoard events on request, and model cards with metrics and data provenance in both folders."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from offline_ner.data import write_jsonl
from offline_ner.data.model_card import read_card_metadata
from offline_ner.errors import ConfigError
from tests.train.conftest import toy_records

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(scope="module")
def base_without_head(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT's encoder alone, like a pre-trained base model: training must give it a new head."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-base")
    BertModel(BertConfig.from_pretrained(tiny_bert_dir), add_pooling_layer=False).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def trained(base_without_head: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One real `offline-ner train` in a child process, stderr captured as a log file would hold it."""
    folder = tmp_path_factory.mktemp("visible")
    files = {}
    for role, records in {"gold": toy_records(16, "g", 1), "dev": toy_records(6, "v", 3)}.items():
        files[role] = folder / f"{role}.jsonl"
        write_jsonl(records, files[role])
    out = folder / "run"
    args = ["train", "--config", "gold", "--base-model", str(base_without_head), "--gold", str(files["gold"]),
            "--dev", str(files["dev"]), "--batch-size", "8", "--set", "max_length=24", "--set", "torch_threads=1",
            "--max-steps", "4", "--set", "eval_every_steps=2", "--set", "logging_steps=1",
            "--set", "patience=0", "--set", "report_to=tensorboard", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", "from offline_ner.cli.main import main; main()", *args],
                          check=False, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"stderr": proc.stderr, "out": out, "files": files}


def test_console_shows_one_line_per_evaluation_with_loss_dev_f1_and_best(trained: dict) -> None:  # type: ignore[type-arg]
    lines = [line for line in trained["stderr"].splitlines() if "dev F1" in line]
    assert len(lines) == 2, trained["stderr"]
    assert lines[0].startswith("[phase 1/1 gold] step 2/4") and lines[1].startswith("[phase 1/1 gold] step 4/4")
    for line in lines:  # a tiny random model's loss starts near ln(9) = 2.2, so no assumption about its size
        assert re.search(r"  epoch \d+\.\d\d  loss \d+\.\d{4}  dev F1 \d\.\d{4}  best \d\.\d{4} \(step [24]\)$", line), line


def test_log_file_gets_plain_progress_lines_not_bar_fragments(trained: dict) -> None:  # type: ignore[type-arg]
    stderr = trained["stderr"]
    assert "\r" not in stderr and "\x1b[" not in stderr and "it/s]" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("[phase 1/1 gold] step 1/4") and " lr " in line]


def test_new_head_warning_becomes_one_note(trained: dict) -> None:  # type: ignore[type-arg]
    stderr = trained["stderr"]
    assert "TRAIN this model" not in stderr and "newly initialized" not in stderr
    assert stderr.count("note: ") == 1 and "a new classifier head for 9 labels" in stderr


def test_report_to_tensorboard_writes_event_files(trained: dict) -> None:  # type: ignore[type-arg]
    events = list((trained["out"] / "tensorboard" / "phase-1-gold").rglob("events.out.tfevents.*"))
    assert events and all(path.stat().st_size > 0 for path in events)


def test_report_to_tensorboard_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from offline_ner.config import load_config
    from offline_ner.train import TrainConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigError, match=r"report_to: tensorboard needs the 'tensorboard' package"):
        load_config(None, TrainConfig, overrides=["report_to=tensorboard"])
    with pytest.raises(ConfigError, match="report_to must be one of none, tensorboard"):
        load_config(None, TrainConfig, overrides=["report_to=wandb"])


def test_trained_model_card_holds_metrics_and_data_provenance(trained: dict) -> None:  # type: ignore[type-arg]
    model = trained["out"] / "model"
    card = (model / "README.md").read_text(encoding="utf-8")
    facts = read_card_metadata(model)["offline_ner"]
    gold = trained["files"]["gold"]
    assert facts["data"]["gold"] == {"source": str(gold), "records": 16,
                                     "sha256": hashlib.sha256(gold.read_bytes()).hexdigest()}
    assert facts["data"]["dev"]["records"] == 6 and facts["regimen"] == "gold" and facts["steps"] == 4
    assert "## Data provenance" in card and f"`{facts['data']['gold']['sha256']}`" in card
    assert f"{facts['dev_f1_all']:.4f}" in card


def test_export_has_a_card_carrying_training_provenance_and_notes_instead_of_warnings(
    trained: dict, tmp_path: Path, capfd: pytest.CaptureFixture[str]  # type: ignore[type-arg]
) -> None:
    from offline_ner.export import ExportConfig, export_onnx

    result = export_onnx(trained["out"] / "model", tmp_path / "onnx", ExportConfig(int8=True))
    stderr = capfd.readouterr().err
    assert "pre-processing before quantization" not in stderr and "TracerWarning:" not in stderr
    assert "note: int8: quantised without onnxruntime's optional pre-processing" in stderr
    facts = read_card_metadata(tmp_path / "onnx")["offline_ner"]
    assert facts["kind"] == "onnx-export" and set(facts["variants"]) == {"fp32", "cpu-int8"}
    assert facts["training"]["data"]["gold"]["records"] == 16
    assert "README.md" in result.manifest.files  # hashed like every other file of the export


def test_bundle_sources_are_described_by_their_bundle_digest(tmp_path: Path) -> None:
    from offline_ner.cli._provenance import describe_source

    payload = tmp_path / "store" / "objects" / "ab12cd" / "payload"
    payload.mkdir(parents=True)
    (payload / "records.jsonl").write_text("{}\n", encoding="utf-8")
    described = describe_source("bundle:llm/records.jsonl", payload / "records.jsonl", tmp_path / "store", 1)
    assert described["bundle"] == {"reference": "bundle:llm/records.jsonl", "digest": "ab12cd"}
    assert "bundle" not in describe_source("local.jsonl", payload / "records.jsonl", tmp_path / "elsewhere", 1)
