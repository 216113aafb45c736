"""Bad input found by review, each with its one clear error: file and line, a short excerpt, the right exit code.

BOMs are read the same way by every reader; non-UTF-8 and too deeply nested JSON are DataErrors (4) naming the
line, never exit 1; a label import blames the bad line, not the sentence's first; a missing dev set is a config
error (3); a bad --set value is blamed on the override, not on the YAML file.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.annotate import ImportSpec, import_labels
from offline_ner.cli.main import cli
from offline_ner.config import load_config
from offline_ner.data import read_conll, read_jsonl, read_text_file
from offline_ner.errors import ConfigError, DataError, ExitCode
from offline_ner.infer.inputs import iter_documents
from offline_ner.train import TrainConfig

BOM = codecs.BOM_UTF8
DEEP = "[" * 100_000 + "]" * 100_000


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_a_bom_is_dropped_by_every_reader(tmp_path: Path) -> None:
    conll = tmp_path / "a.conll"
    conll.write_bytes(BOM + b"-DOCSTART- -X- O O\n\nEU B-ORG\nrejects O\n")
    assert [r.tokens for r in read_conll(conll)] == [("EU", "rejects")]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(BOM + b'{"id": "1", "tokens": ["EU"], "tags": ["B-ORG"]}\n')
    assert read_jsonl(jsonl)[0].tokens == ("EU",)
    text = tmp_path / "a.txt"
    text.write_bytes(BOM + b"EU rejects")
    assert read_text_file(text).text == "EU rejects"
    labels = tmp_path / "labels.conll"
    labels.write_bytes(BOM + b"EU B-ORG\nrejects O\n")
    assert import_labels(labels, ImportSpec()).records[0].tokens == ("EU", "rejects")


def test_non_utf8_conll_in_annotate_import_names_file_and_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels.conll"
    labels.write_bytes(b"EU B-ORG\nM\xfcller B-PER\n")
    code, output = _invoke("annotate", "import", labels, "--out", tmp_path / "ann")
    assert code == ExitCode.DATA, output
    assert "labels.conll:2: not valid UTF-8" in output


def test_deeply_nested_json_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": "1", "tokens": ["a"]}\n' + DEEP + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"deep.jsonl:2: JSON nested too deeply"):
        read_jsonl(path)
    code, output = _invoke("annotate", "import", path, "--out", tmp_path / "ann")
    assert code == ExitCode.DATA, output
    code, output = _invoke("train", "--gold", path, "--dev", path, "--out", tmp_path / "run")
    assert code == ExitCode.DATA, output


def test_deeply_nested_provenance_in_bundle_create_is_a_data_error(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "records.jsonl").write_text('{"id": "1", "tokens": ["a"], "tags": ["O"]}\n', encoding="utf-8")
    (export / "provenance.json").write_text(DEEP, encoding="utf-8")
    keys = tmp_path / "keys"
    env = {"OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple"}
    assert CliRunner(env=env).invoke(cli, ["keys", "generate", "--out", str(keys), "--name", "k"]).exit_code == 0
    result = CliRunner(env=env).invoke(cli, [
        "bundle", "create", str(export), "--kind", "annotations", "--stream", "s", "--sequence", "1",
        "--key", str(keys / "k.key"), "-o", str(tmp_path / "b.bundle"),
    ])
    assert result.exit_code == ExitCode.DATA, result.output
    assert "provenance.json: JSON nested too deeply" in result.output


def test_annotate_import_blames_the_line_of_the_bad_tag(tmp_path: Path) -> None:
    labels = tmp_path / "labels.conll"
    labels.write_text("EU B-ORG\nrejects O\nGerman PERSON\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.conll:3: unknown LLM tag 'PERSON'"):
        import_labels(labels, ImportSpec())


def test_a_huge_bad_line_is_quoted_as_a_short_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "huge.conll"
    path.write_text("EU B-ORG\n" + "x " * 500_000 + "O\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_conll(path)
    assert "huge.conll:2: expected 2 columns" in str(info.value)
    assert len(str(info.value)) < 400
    tag = tmp_path / "tag.conll"
    tag.write_text("EU B-" + "X" * 1_000_000 + "-\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_conll(tag)
    assert len(str(info.value)) < 400


def test_an_empty_file_and_an_empty_folder_are_the_same_error_for_predict(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    for name in ("empty", "empty.txt", "empty.jsonl"):
        with pytest.raises(DataError, match="no (files|documents)") as info:
            list(iter_documents(tmp_path / name))
        assert info.value.exit_code == ExitCode.DATA


def test_a_bad_set_value_is_blamed_on_the_override_not_the_file(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("epochs: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(config, TrainConfig, overrides=["batch_size=many"])
    assert str(info.value).startswith("--set batch_size=many: batch_size: expected int")
    with pytest.raises(ConfigError) as info:
        load_config(config, TrainConfig, overrides=["no_such_key=1"])
    assert str(info.value).startswith("--set no_such_key=1:")
    config.write_text("epochs: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"train.yaml: epochs: expected"):
        load_config(config, TrainConfig)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(config, TrainConfig, overrides=["epochs=[1"])
