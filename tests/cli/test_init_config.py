"""``offline-ner init config``: a commented config that trains exactly as the shipped one for its regimen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.config import load_config
from offline_ner.errors import ExitCode
from offline_ner.train import REGIMENS, TrainConfig
from offline_ner.train.starter import shipped_config_for


@pytest.mark.parametrize("regimen", REGIMENS)
def test_written_config_loads_as_the_shipped_config_of_its_regimen(tmp_path: Path, regimen: str) -> None:
    out = tmp_path / "train.yaml"
    result = CliRunner().invoke(cli, ["init", "config", "--regimen", regimen, "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = load_config(out, TrainConfig)
    assert written == load_config(shipped_config_for(regimen), TrainConfig)
    assert written.regimen == regimen


def test_uncommented_defaults_are_valid_and_change_nothing(tmp_path: Path) -> None:
    text = CliRunner().invoke(cli, ["init", "config"]).stdout  # stdout by default, the default regimen
    assert "# eval_mode: " in text
    uncommented = re.sub(r"^# (\w+: )", r"\1", text, flags=re.MULTILINE)
    (tmp_path / "all.yaml").write_text(uncommented, encoding="utf-8")
    assert load_config(tmp_path / "all.yaml", TrainConfig) == load_config(
        shipped_config_for(TrainConfig().regimen), TrainConfig)


def test_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("epochs: 7\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", "config", "-o", str(out)])
    assert result.exit_code == ExitCode.CONFIG
    assert out.read_text(encoding="utf-8") == "epochs: 7\n"
    assert CliRunner().invoke(cli, ["init", "config", "-o", str(out), "--force"]).exit_code == 0
    assert load_config(out, TrainConfig).regimen == TrainConfig().regimen
