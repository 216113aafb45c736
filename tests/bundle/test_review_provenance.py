"""Records that come back from a Label Studio review say a person reviewed them (who, and which annotation), not
that the LLM labelled them; training on the reviewed records and their LLM originals together is warned about."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data import Document, read_records, sentence_records, write_jsonl
from offline_ner.errors import ExitCode

TEXT = "Angela Merkel visited Paris. The EU met in Brussels on Monday."
LLM_PROVENANCE = {"annotator": "llm", "model": "gpt-4o-2024-08-06", "request_key": "ab12", "parse_mode": "json"}


def _llm_records(tmp_path: Path) -> Path:
    """Records as `annotate run` writes them: LLM tags, annotator "llm" and the model in each provenance."""
    records = [
        r.with_tags(tags, provenance={**r.provenance, **LLM_PROVENANCE})
        for r, tags in zip(
            sentence_records(Document("news-1", TEXT, "news.txt")),
            (["B-PER", "I-PER", "O", "B-ORG", "O"], ["O", "B-ORG", "O", "O", "B-LOC", "O", "O", "O"]),
        )
    ]
    write_jsonl(records, tmp_path / "llm.jsonl")
    return tmp_path / "llm.jsonl"


def _reviewed_export(tmp_path: Path, llm: Path) -> Path:
    """The Label Studio round trip: pre-annotations out, one reviewer's corrections back (an export's shape)."""
    tasks_path = tmp_path / "tasks.json"
    converted = CliRunner().invoke(cli, ["convert", str(llm), "--to", "label-studio", "-o", str(tasks_path)])
    assert converted.exit_code == 0, converted.output
    tasks = json.loads(tasks_path.read_text())
    for number, task in enumerate(tasks):
        result = task["predictions"][0]["result"]
        for region in result:
            if region["value"]["text"] == "Paris":
                region["value"]["labels"] = ["LOC"]
        reviewer = {"id": 3, "email": "reviewer@example.org", "first_name": "R"} if number == 0 else 3
        task["annotations"] = [
            {"id": 40 + number, "result": result, "was_cancelled": False, "completed_by": reviewer,
             "updated_at": "2026-01-01T10:00:00.000000Z"}
        ]  # fmt: skip
    export = tmp_path / "project-1-at-2026-01-01-00-00.json"
    export.write_text(json.dumps(tasks))
    return export


def test_reviewed_records_name_the_reviewer_and_annotation_not_the_llm(tmp_path: Path) -> None:
    export = _reviewed_export(tmp_path, _llm_records(tmp_path))
    converted = CliRunner().invoke(cli, ["convert", str(export), "--to", "jsonl", "-o", str(tmp_path / "gold.jsonl")])
    assert converted.exit_code == 0, converted.output
    gold = read_records(tmp_path / "gold.jsonl")
    assert [r.tags[3] for r in gold] == ["B-LOC", "O"]
    for number, record in enumerate(gold):
        assert record.provenance["annotator"] == "human"
        assert "model" not in record.provenance  # the LLM's model name is not the reviewed record's author
        assert record.provenance["pre_annotation"] == {"annotator": "llm", "model": "gpt-4o-2024-08-06"}
        review = record.provenance["review"]
        assert review["tool"] == "label-studio" and review["annotation_id"] == 40 + number
        assert review["updated_at"] == "2026-01-01T10:00:00.000000Z"
    assert gold[0].provenance["review"]["completed_by"] == {"id": 3, "email": "reviewer@example.org"}
    assert gold[1].provenance["review"]["completed_by"] == 3
    assert gold[0].provenance["request_key"] == "ab12"  # the rest of the trail is kept


def test_training_on_reviewed_gold_and_its_llm_originals_warns_about_the_shared_ids(tmp_path: Path) -> None:
    llm = _llm_records(tmp_path)
    export = _reviewed_export(tmp_path, llm)
    result = CliRunner().invoke(
        cli,
        ["train", "--config", "simple_mix", "--gold", str(export), "--distilled", str(llm), "--dev", str(export),
         "--base-model", str(tmp_path / "no-model"), "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == ExitCode.MODEL_NOT_FOUND, result.output  # stops before any training
    assert "warning: 2 record ids are in both --gold and --distilled (e.g. news-1:0)" in result.stderr
