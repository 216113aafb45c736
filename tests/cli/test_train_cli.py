"""``offline-ner train``, ``evaluate`` and ``schedules`` from the command line, on the tiny random BERT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.config import packaged_configs_dir
from offline_ner.data import write_jsonl
from offline_ner.errors import ExitCode
from offline_ner.train import SCHEDULE_KINDS
from tests.train.conftest import toy_records

CONFIGS = sorted(packaged_configs_dir().glob("*.yaml"))


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-data")
    records = {"gold": toy_records(16, "g", 1), "distilled": toy_records(16, "d", 2, noisy=True),
               "dev": toy_records(6, "v", 3)}
    for role, items in records.items():
        write_jsonl(items, folder / f"{role}.jsonl")
    return {role: folder / f"{role}.jsonl" for role in records}


def train_args(model: Path, files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["train", "--base-model", str(model), "--gold", str(files["gold"]), "--distilled", str(files["distilled"]),
            "--dev", str(files["dev"]), "--batch-size", "8", "--set", "max_length=24", "--set", "torch_threads=1",
            "--quiet", "--json", "--out", str(out), *extra]


@pytest.mark.parametrize("command", ["train", "evaluate", "schedules"])
def test_help_shows_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "Exit codes" in result.stdout


def test_schedules_plot_draws_every_curve_to_a_png(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schedules", "--plot", str(tmp_path / "curves.png"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["schedules"]) == set(SCHEDULE_KINDS)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)  # passed by name, as on an installed host
def test_every_shipped_config_trains(config: Path, tiny_bert_dir: Path, data_files: dict[str, Path],
                                     tmp_path: Path, no_network: None) -> None:
    args = train_args(tiny_bert_dir, data_files, tmp_path / "run", "--config", config.stem, "--max-steps", "2")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # exactly one JSON document, though the Trainer prints logs
    assert document["ok"] is True and 0.0 <= document["best_dev_f1"] <= 1.0
    assert all(phase["steps"] == 2 for phase in document["metrics"]["phases"])
    assert (Path(document["model_dir"]) / "config.json").is_file()


def test_train_then_evaluate_prints_a_table_and_writes_json(tiny_bert_dir: Path, data_files: dict[str, Path],
                                                            tmp_path: Path, no_network: None) -> None:
    runner = CliRunner()
    trained = runner.invoke(cli, train_args(tiny_bert_dir, data_files, tmp_path / "run", "--regimen", "gold",
                                            "--epochs", "1"))
    assert trained.exit_code == 0, trained.stderr
    model_dir = json.loads(trained.stdout)["model_dir"]
    table = runner.invoke(cli, ["evaluate", "--model", model_dir, "--data", str(data_files["dev"]), "--mode", "strict"])
    assert table.exit_code == 0, table.stderr
    assert "micro" in table.stdout and "strict mode, 6 records" in table.stdout
    report = tmp_path / "report.json"
    as_json = runner.invoke(cli, ["evaluate", "--model", model_dir, "--data", str(data_files["dev"]), "--json",
                                  "-o", str(report)])
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["entities"] == 18 and set(written["per_type"]) >= {"PER", "ORG", "LOC"}
    assert json.loads(as_json.stdout) == {"ok": True, **written}


def test_missing_base_model_exits_5_without_network(data_files: dict[str, Path], tmp_path: Path,
                                                    no_network: None) -> None:
    result = CliRunner().invoke(cli, train_args(tmp_path / "absent", data_files, tmp_path / "run"))
    assert result.exit_code == ExitCode.MODEL_NOT_FOUND == 5
    assert json.loads(result.stdout)["error"]["type"] == "ModelNotFoundError"
    assert not (tmp_path / "run").exists()


def test_evaluate_missing_model_exits_5(data_files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(tmp_path / "none"), "--data", str(data_files["dev"])])
    assert result.exit_code == ExitCode.MODEL_NOT_FOUND


def test_unreadable_data_source_exits_4(tiny_bert_dir: Path, data_files: dict[str, Path], tmp_path: Path) -> None:
    files = {**data_files, "gold": tmp_path / "missing.conll"}
    result = CliRunner().invoke(cli, train_args(tiny_bert_dir, files, tmp_path / "run"))
    assert result.exit_code == ExitCode.DATA


def test_malformed_bundle_reference_is_a_bundle_format_error(tiny_bert_dir: Path, data_files: dict[str, Path],
                                                              tmp_path: Path) -> None:
    files: dict[str, object] = {**data_files, "distilled": "bundle:llm-2024"}  # no "/<path>" part
    result = CliRunner().invoke(cli, train_args(tiny_bert_dir, files, tmp_path / "run"))  # type: ignore[arg-type]
    assert result.exit_code == ExitCode.BUNDLE_FORMAT


def test_unknown_config_key_exits_3(tiny_bert_dir: Path, data_files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, train_args(tiny_bert_dir, data_files, tmp_path / "run", "--set", "epoch=2"))
    assert result.exit_code == ExitCode.CONFIG and "epoch" in result.stderr
