"""Inputs that passed wrongly (issue 28, item 9): what a writer cannot write so that it reads back, spans outside
their text, empty input, a repeated shard or id, a YAML key given twice and a trust-store sequence that is not a
whole number are refused by name, not coerced or written as they are. (runs.csv's BOM: see
tests/experiment/test_import_rows_validation.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.bundle.trust import TrustStore
from offline_ner.cli.main import cli
from offline_ner.config import load_config
from offline_ner.errors import ConfigError, ExitCode, TrustStoreError
from offline_ner.train import TrainConfig
from tests.shards import write_shards


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + result.stderr


@pytest.mark.parametrize("token", ["", "a b", "a\nb", "a\tb", "\u00a0"])
def test_convert_to_conll_refuses_a_token_conll_cannot_hold(tmp_path: Path, token: str) -> None:
    source = tmp_path / "records.jsonl"
    record = {"id": "r1", "tokens": ["EU", token, "rejects"], "tags": ["B-ORG", "O", "O"]}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    code, output = _invoke("convert", source, "--to", "conll", "-o", out)
    assert code == ExitCode.DATA, output
    assert "records.jsonl: record 'r1': token 2" in output
    assert not out.exists()


@pytest.mark.parametrize(("start", "end"), [(0, 500), (-3, 2)])
def test_spacy_jsonl_spans_outside_the_text_are_refused_like_label_studio_ones(
        tmp_path: Path, start: int, end: int) -> None:
    source = tmp_path / "spans.jsonl"
    rows = [{"id": "a", "text": "EU rejects", "spans": []},
            {"id": "b", "text": "EU rejects", "spans": [{"start": start, "end": end, "label": "ORG"}]}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, output = _invoke("convert", source, "--to", "conll", "-o", tmp_path / "out.conll")
    assert code == ExitCode.DATA, output
    assert f"spans.jsonl:2: span [{start}, {end}) ORG lies outside the text (10 characters)" in output


@pytest.mark.parametrize(("name", "content"), [("empty.txt", ""), ("blank.txt", "\n\n"), ("tasks.json", "[]")])
def test_convert_of_an_empty_input_is_an_error_as_the_readme_says(tmp_path: Path, name: str, content: str) -> None:
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    code, output = _invoke("convert", source, "--to", "jsonl", "-o", tmp_path / "out.jsonl")
    assert code == ExitCode.DATA, output
    assert f"{name}: no " in output  # no records, no tasks
    assert not (tmp_path / "out.jsonl").exists()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": f"doc {i}"}) + "\n" for i in range(6)))
    return source


def test_predict_merge_refuses_one_shard_file_given_twice(docs: Path, tmp_path: Path) -> None:
    (part,) = write_shards(docs, tmp_path / "parts", 1)
    code, output = _invoke("predict-merge", "--input", docs, "-o", tmp_path / "merged.jsonl", part, part)
    assert code == ExitCode.SHARD, output
    assert "given twice" in output
    assert not (tmp_path / "merged.jsonl").exists()


def test_predict_merge_refuses_to_write_over_a_shard(docs: Path, tmp_path: Path) -> None:
    parts = write_shards(docs, tmp_path / "parts", 2)
    before = parts[0].read_bytes()
    code, output = _invoke("predict-merge", "--input", docs, "-o", parts[0], *parts)
    assert code == ExitCode.SHARD, output
    assert "would overwrite shard" in output
    assert parts[0].read_bytes() == before


def test_annotate_import_on_error_skip_skips_a_repeated_id_naming_line_and_id(tmp_path: Path) -> None:
    source = tmp_path / "labels.jsonl"
    rows = [{"id": "s1", "tokens": ["EU"], "llm_tags": ["B-ORG"]}, {"id": "s2", "tokens": ["rejects"], "llm_tags": ["O"]},
            {"id": "s1", "tokens": ["German"], "llm_tags": ["B-MISC"]}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, output = _invoke("annotate", "import", source, "--llm-field", "llm_tags", "--id-field", "id",
                           "--on-error", "skip", "--out", tmp_path / "ann", "--json")
    assert code == 0, output
    assert "record id 's1' also on line 1" in output and '"line": 3' in output
    assert [json.loads(line)["id"] for line in (tmp_path / "ann" / "records.jsonl").read_text().splitlines()] == [
        "s1", "s2"]
    code, output = _invoke("annotate", "import", source, "--llm-field", "llm_tags", "--id-field", "id",
                           "--out", tmp_path / "ann2")
    assert code == ExitCode.DATA, output
    assert "labels.jsonl:3: record id 's1' also on line 1" in output


def test_a_yaml_key_given_twice_is_a_config_error_naming_its_line(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("epochs: 2\nseed: 1\nepochs: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"train\.yaml:3: invalid YAML: duplicate key 'epochs'"):
        load_config(config, TrainConfig)


@pytest.mark.parametrize("sequence", [1.9, True, -5, 0, "3", None])
def test_a_trust_store_sequence_that_is_not_a_whole_number_from_1_is_refused(
        tmp_path: Path, sequence: object) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"version": 1, "keys": {}, "roles": {},
                                "streams": {"s": {"sequence": sequence, "digest": "ab" * 32}}}))
    with pytest.raises(TrustStoreError, match=r"stream 's' sequence .* must be an integer from 1"):
        TrustStore.load(path)


def test_folder_inputs_whose_document_ids_repeat_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "news.txt").write_text(f"From {folder}.\n", encoding="utf-8")
    # the merge reads the folders (no model) and must notice that both documents are called "news"
    (part,) = write_shards(tmp_path / "a", tmp_path / "parts", 1)
    code, output = _invoke("predict-merge", "--input", tmp_path / "a", "--input", tmp_path / "b",
                           "-o", tmp_path / "merged.jsonl", part)
    assert code == ExitCode.DATA, output
    assert "document id 'news' also comes from a/news.txt" in output
    assert not (tmp_path / "merged.jsonl").exists()
