"""``offline-ner predict`` end to end on the tiny export: JSONL/text/CoNLL in, JSONL/CoNLL out, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data import iob2_violations
from offline_ner.errors import ExitCode
from offline_ner.infer.session import cuda_unavailable_reason

pytestmark = pytest.mark.usefixtures("no_network")


def predict(onnx: Path, *args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["predict", "--model", str(onnx), *args, "--json"])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_jsonl_documents_give_one_line_of_entities_each(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    docs = [{"id": "a", "text": "Angela Merkel visited Paris. She met Macron."}, {"id": 7, "text": ""},
            {"id": "c", "text": "Zürich (東京) café 👍🏽 Straße."}]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, doc, stderr = predict(tiny_onnx_dir, "--input", str(source), "-o", str(out), "--device", "cpu")
    assert code == 0, stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "7", "c"]
    assert lines[1]["entities"] == []
    for original, line in zip(docs, lines):
        for entity in line["entities"]:
            assert set(entity) == {"type", "start", "end", "text", "score"}
            assert original["text"][entity["start"] : entity["end"]] == entity["text"]
    assert doc["engine"]["device"] == "cpu" and doc["throughput"]["documents"] == 3
    assert "documents/s" in stderr and "tokens/s" in stderr and "padding efficiency" in stderr
    assert "device cpu" in stderr


def test_text_inputs_and_folders_stream_into_one_output(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("Paris is big.\n\nBerlin too.\n", encoding="utf-8")
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "one.txt").write_text("Rome.\nMadrid.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, stderr = predict(
        tiny_onnx_dir, "--input", str(tmp_path / "lines.txt"), "--input", str(folder), "-o", str(out)
    )
    assert code == 0, stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == ["lines:1", "lines:2", "lines:3", "one"]


def test_conll_tokens_give_conll_tags_after_the_gold_column(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "test.conll"
    source.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    code, _, stderr = predict(tiny_onnx_dir, "--input", str(source), "-o", str(out), "--precision", "fp32")
    assert code == 0, stderr
    blocks = out.read_text().strip().split("\n\n")
    assert [[line.split()[0] for line in block.splitlines()] for block in blocks] == [["EU", "rejects"], ["Peter"]]
    rows = [line.split() for block in blocks for line in block.splitlines()]
    assert [row[1] for row in rows] == ["B-ORG", "O", "B-PER"] and all(len(row) == 3 for row in rows)


def test_decode_argmax_keeps_the_per_word_labels(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "test.conll"
    source.write_text("".join(f"{word} O\n" for word in ("Paris Berlin Rome Madrid Oslo Bern " * 20).split()))
    outputs = {}
    for decode in ("viterbi", "argmax"):
        out = tmp_path / f"{decode}.conll"
        code, doc, stderr = predict(tiny_onnx_dir, "--input", str(source), "-o", str(out), "--decode", decode)
        assert code == 0, stderr
        assert doc["engine"]["decode"] == decode
        outputs[decode] = [line.split()[-1] for line in out.read_text().splitlines() if line]
    assert iob2_violations(outputs["argmax"]), "the random model should break IOB2"
    assert iob2_violations(outputs["viterbi"]) == []


def test_bad_jsonl_line_exits_4_and_writes_no_output(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, doc, _ = predict(tiny_onnx_dir, "--input", str(source), "-o", str(out))
    assert code == ExitCode.DATA
    assert f"{source}:2:" in doc["error"]["message"]
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["docs.jsonl"]


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="this machine has CUDA")
def test_device_cuda_without_cuda_exits_9_with_advice(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Paris.\n")
    code, doc, _ = predict(tiny_onnx_dir, "--input", str(source), "-o", str(tmp_path / "o.jsonl"), "--device", "cuda")
    assert code == ExitCode.INFER
    assert "--device cpu" in doc["error"]["message"]


def test_model_folder_that_is_not_an_export_exits_5(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Paris.\n")
    code, _, _ = predict(tmp_path, "--input", str(source), "-o", str(tmp_path / "o.jsonl"))
    assert code == ExitCode.MODEL_NOT_FOUND


def test_bad_conll_line_exits_4_naming_the_line(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "test.conll"
    source.write_text("EU B-ORG\nrejects O\nGerman B-MISC extra\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    code, doc, _ = predict(tiny_onnx_dir, "--input", str(source), "-o", str(out))
    assert code == ExitCode.DATA
    assert f"{source}:3:" in doc["error"]["message"]
    assert not out.exists()


def test_conll_and_text_inputs_cannot_be_mixed(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a.conll").write_text("EU\n")
    (tmp_path / "b.txt").write_text("Paris.\n")
    result = CliRunner().invoke(
        cli, ["predict", "--model", str(tiny_onnx_dir), "--input", str(tmp_path / "a.conll"),
              "--input", str(tmp_path / "b.txt"), "-o", str(tmp_path / "o")],
    )
    assert result.exit_code == ExitCode.USAGE


def test_output_dash_streams_entities_to_stdout_and_the_summary_to_stderr(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("Paris is big.\nBerlin too.\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["predict", "--model", str(tiny_onnx_dir), "--input", str(tmp_path / "lines.txt"), "-o", "-", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["lines:1", "lines:2"]
    assert '"output": "-"' in result.stderr
