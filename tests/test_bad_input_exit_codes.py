"""Bad input that used to exit 1 (mostly without file or line) now exits with its documented code and names the
file, and the line where there is one (issue 28, item 8): a lone surrogate escape, a shard manifest that is not
one, YAML that is not UTF-8, nested too deeply or not finite, and ``-o`` naming an existing folder. (runs.csv's
cases are in tests/experiment/test_import_rows_validation.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import ExitCode
from offline_ner.infer.shard import manifest_path
from tests.shards import write_shards

SURROGATE = '{"id": "1", "tokens": ["EU", "bad\\ud800"], "tags": ["B-ORG", "O"]}\n'
GOOD = '{"id": "0", "tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n'


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + result.stderr


def test_convert_refuses_a_lone_surrogate_escape_naming_the_line(tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(GOOD + SURROGATE, encoding="utf-8")
    code, output = _invoke("convert", source, "--to", "conll", "-o", tmp_path / "out.conll")
    assert code == ExitCode.DATA, output
    assert "records.jsonl:2: a string holds a lone surrogate" in output
    assert not (tmp_path / "out.conll").exists()


def test_annotate_import_on_error_skip_skips_a_lone_surrogate_row_and_names_it(tmp_path: Path) -> None:
    source = tmp_path / "labels.jsonl"
    source.write_text(GOOD.replace('"tags"', '"llm_tags"') + SURROGATE.replace('"tags"', '"llm_tags"'),
                      encoding="utf-8")
    code, output = _invoke("annotate", "import", source, "--llm-field", "llm_tags", "--on-error", "skip",
                           "--out", tmp_path / "ann", "--json")
    assert code == 0, output
    assert len((tmp_path / "ann" / "records.jsonl").read_text().splitlines()) == 1
    assert "lone surrogate" in output and '"line": 2' in output


@pytest.fixture
def shard(tmp_path: Path) -> tuple[Path, Path]:
    """A JSONL input and the output of its one shard (1/1), finished, with its manifest."""
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": f"doc {i}"}) + "\n" for i in range(3)))
    return source, write_shards(source, tmp_path / "parts", 1)[0]


@pytest.mark.parametrize("manifest", [
    "[1, 2]",
    "SHARDS_LIST",
    "[" * 100_000 + "]" * 100_000,
    "FOLDER",
    "\"\\ud800\"",
    "{\"version\": 1}",
])
def test_a_shard_manifest_that_is_not_one_is_a_shard_error_naming_it(
        shard: tuple[Path, Path], tmp_path: Path, manifest: str) -> None:
    source, part = shard
    path = manifest_path(part)
    if manifest == "SHARDS_LIST":
        path.write_text(json.dumps({**json.loads(path.read_text()), "shards": [3]}))
    elif manifest == "FOLDER":
        path.unlink()
        path.mkdir()
    else:
        path.write_text(manifest)
    code, output = _invoke("predict-merge", "--input", source, "-o", tmp_path / "merged.jsonl", part)
    assert code == ExitCode.SHARD, output
    assert f"{path}: " in output
    assert not (tmp_path / "merged.jsonl").exists()


@pytest.mark.parametrize(("content", "where"), [
    (b"regimen: gold\nseed: M\xfcller\n", ":2: not valid UTF-8"),
    (b"regimen: gold\nschedule: " + b"[" * 20_000 + b"]" * 20_000 + b"\n", ": invalid YAML: nested too deeply"),
    (b"regimen: gold\nepochs: .inf\n", ": epochs: expected float, found inf"),
    (b"regimen: gold\nlearning_rate: .nan\n", ": learning_rate: expected float, found nan"),
])
def test_a_yaml_config_that_is_not_utf8_too_deep_or_not_finite_is_a_config_error(
        tmp_path: Path, content: bytes, where: str) -> None:
    config = tmp_path / "train.yaml"
    config.write_bytes(content)
    gold = tmp_path / "gold.conll"
    gold.write_text("EU B-ORG\n", encoding="utf-8")
    code, output = _invoke("train", "--config", config, "--gold", gold, "--base-model", tmp_path / "no-model",
                           "--out", tmp_path / "run")
    assert code == ExitCode.CONFIG, output
    assert f"{config}{where}" in output


def test_output_naming_an_existing_folder_is_refused_naming_it(tmp_path: Path) -> None:
    source = tmp_path / "gold.conll"
    source.write_text("EU B-ORG\n", encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    code, output = _invoke("convert", source, "--to", "jsonl", "-o", folder)
    assert code == ExitCode.DATA, output
    assert f"{folder}: is a folder" in output
    assert list(folder.iterdir()) == []
