"""``predict`` in pipelines and standard formats; ``evaluate`` on what is deployed; stock optimum exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from seqeval.metrics import f1_score

from offline_ner.cli.main import cli
from offline_ner.data import read_records

pytestmark = pytest.mark.usefixtures("no_network")

ROOT = Path(__file__).resolve().parents[2]
DOCS = [{"id": "a", "text": "Angela Merkel visited Paris. She met Macron in Berlin."}, {"text": "Rome."},
        {"id": 3, "text": "The U.S. Senate and the EU disagree."}]
SENTENCES = [["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
             ["Peter", "Blackburn"], ["BRUSSELS", "1996-08-22"], ["The", "European", "Commission", "said", "on",
             "Thursday", "it", "disagreed", "with", "German", "advice", "."]]


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_predict_reads_stdin_and_writes_stdout_through_a_real_pipe(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", DOCS)
    python = [sys.executable, "-m", "offline_ner"]
    consumer = "import json, sys; print(json.dumps([json.loads(line)['id'] for line in sys.stdin]))"
    with subprocess.Popen(["cat", str(docs)], stdout=subprocess.PIPE) as cat, subprocess.Popen(
        [*python, "predict", "--model", str(tiny_onnx_dir), "-", "--device", "cpu"],
        stdin=cat.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_cli_env(),
    ) as predict, subprocess.Popen(
        [sys.executable, "-c", consumer], stdin=predict.stdout, stdout=subprocess.PIPE, env=_cli_env()
    ) as jq:
        assert cat.stdout is not None and predict.stdout is not None
        cat.stdout.close()
        predict.stdout.close()
        out, _ = jq.communicate(timeout=300)
        stderr = predict.stderr.read().decode() if predict.stderr else ""
    assert predict.wait() == 0, stderr
    assert json.loads(out) == ["a", "stdin:2", "3"]
    assert "device cpu" in stderr  # the report stays on stderr, out of the pipe


def test_input_dash_reads_conll_from_stdin_with_a_gold_column(tiny_onnx_dir: Path) -> None:
    conll = "".join("".join(f"{w} NNP O\n" for w in words) + "\n" for words in SENTENCES)
    result = subprocess.run(
        [sys.executable, "-m", "offline_ner", "predict", "--model", str(tiny_onnx_dir), "--input", "-",
         "--precision", "fp32"],
        input=conll.encode(), capture_output=True, env=_cli_env(), timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    blocks = result.stdout.decode().strip().split("\n\n")
    assert [[line.split()[0] for line in block.splitlines()] for block in blocks] == SENTENCES
    assert all(line.split()[1] == "O" and len(line.split()) == 3 for block in blocks for line in block.splitlines())


def _predict(onnx: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["predict", "--model", str(onnx), "--device", "cpu", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_hf_format_gives_pipeline_shaped_entities(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", DOCS)
    lines = [json.loads(line) for line in _predict(tiny_onnx_dir, str(docs), "--format", "hf").splitlines()]
    plain = [json.loads(line) for line in _predict(tiny_onnx_dir, str(docs)).splitlines()]
    for hf, ours, doc in zip(lines, plain, DOCS):
        assert [set(e) for e in hf["entities"]] == [{"entity_group", "score", "word", "start", "end"}] * len(ours["entities"])
        assert [(e["entity_group"], e["start"], e["end"], e["word"], e["score"]) for e in hf["entities"]] == [
            (e["type"], e["start"], e["end"], e["text"], e["score"]) for e in ours["entities"]]
        assert all(doc["text"][e["start"] : e["end"]] == e["word"] for e in hf["entities"])


def test_spacy_and_label_studio_outputs_read_back_as_the_predicted_entities(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    docs = _jsonl(tmp_path / "docs.jsonl", DOCS)
    plain = [json.loads(line) for line in _predict(tiny_onnx_dir, str(docs)).splitlines()]
    expected = [[(e["start"], e["end"], e["type"]) for e in line["entities"]] for line in plain]
    _predict(tiny_onnx_dir, str(docs), "--format", "spacy", "-o", str(tmp_path / "out.spacy"))
    spacy_docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(Vocab()))
    assert [d.text for d in spacy_docs] == [d["text"] for d in DOCS]
    assert [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in spacy_docs] == expected
    spans = [json.loads(line) for line in _predict(tiny_onnx_dir, str(docs), "--format", "spacy-jsonl").splitlines()]
    assert [[(s["start"], s["end"], s["label"]) for s in line["spans"]] for line in spans] == expected
    tasks = json.loads(_predict(tiny_onnx_dir, str(docs), "--format", "label-studio"))
    assert [t["data"]["text"] for t in tasks] == [d["text"] for d in DOCS]
    assert [[(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in t["predictions"][0]["result"]]
            for t in tasks] == expected


def _gold_file(tiny_onnx_dir: Path, tmp_path: Path) -> Path:
    """CoNLL gold that the model gets partly right: its own fp32 tags on every other sentence, O elsewhere."""
    unlabelled = tmp_path / "tokens.conll"
    unlabelled.write_text("".join("".join(f"{w}\n" for w in words) + "\n" for words in SENTENCES * 3))
    blocks = _predict(tiny_onnx_dir, str(unlabelled), "--precision", "fp32").strip().split("\n\n")
    lines = []
    for k, block in enumerate(blocks):
        for line in block.splitlines():
            token, tag = line.split()
            lines.append(f"{token} X {tag if k % 2 == 0 else 'O'}\n")
        lines.append("\n")
    gold = tmp_path / "gold.txt"  # CoNLL-2003's own suffix: read as CoNLL by content
    gold.write_text("".join(lines))
    return gold


def test_evaluate_on_each_exported_graph_matches_predict_scored_separately(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    gold = _gold_file(tiny_onnx_dir, tmp_path)
    for precision in ("fp32", "int8", "fp16"):
        result = CliRunner().invoke(cli, ["evaluate", "--model", str(tiny_onnx_dir), "--data", str(gold),
                                          "--precision", precision, "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["engine"]["precision"] == precision
        conll = _predict(tiny_onnx_dir, str(gold), "--precision", precision)  # token, gold, predicted
        rows = [[line.split() for line in block.splitlines()] for block in conll.strip().split("\n\n")]
        separately = f1_score([[r[1] for r in s] for s in rows], [[r[2] for r in s] for s in rows])
        assert report["f1"] == pytest.approx(separately, abs=1e-12)
        if precision == "fp32":
            assert 0 < report["f1"] < 1


def test_stock_optimum_export_predicts_with_our_engine(tiny_bert_dir: Path, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    from optimum.exporters.onnx import main_export

    stock = tmp_path / "optimum"
    main_export(str(tiny_bert_dir), stock, task="token-classification", local_files_only=True)
    assert not (stock / "export.json").exists() and (stock / "model.onnx").is_file()
    docs = _jsonl(tmp_path / "docs.jsonl", DOCS)
    ours = _predict(tiny_onnx_dir, str(docs), "--precision", "fp32")
    result = CliRunner().invoke(cli, ["predict", "--model", str(stock), str(docs), "--device", "cpu", "--json",
                                      "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["engine"]["origin"] == "optimum"
    stock_lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    ours_lines = [json.loads(line) for line in ours.splitlines()]
    assert [[(e["type"], e["start"], e["end"]) for e in line["entities"]] for line in stock_lines] == [
        [(e["type"], e["start"], e["end"]) for e in line["entities"]] for line in ours_lines]


def test_predicted_conll_reads_back_as_gold_and_prediction_columns(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    gold = _gold_file(tiny_onnx_dir, tmp_path)
    out = tmp_path / "pred.conll"
    _predict(tiny_onnx_dir, str(gold), "--precision", "fp32", "-o", str(out))
    assert [r.tokens for r in read_records(out)] == [r.tokens for r in read_records(gold)]
