"""``offline-ner review`` end to end, through the CLI: rank LLM labels with a model, send the top K to Label
Studio, simulate the review there, convert the export back, and train on it: the reviewed records say a person
labelled them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from offline_ner.cli.main import cli
from offline_ner.data import Record, read_records, spans_of_record, write_jsonl
from offline_ner.data.formats.label_studio import task_of

GOLD = ("B-PER", "I-PER", "O", "B-LOC", "O")
NOISY = ("B-ORG", "I-ORG", "O", "B-LOC", "O")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def records(tags: tuple[str, ...]) -> list[Record]:
    return [Record(id=f"llm:{i}", tokens=(f"Anna{i}", "Berg", "visited", "Tarrow", "."), tags=tags)
            for i in range(6)]


def test_ranked_tasks_go_to_label_studio_and_come_back_as_human_gold(tmp_path: Path, tiny_bert_dir: Path) -> None:
    write_jsonl(records(NOISY), tmp_path / "llm.jsonl")
    ranked = run("review", str(tmp_path / "llm.jsonl"), "--model", str(tiny_bert_dir), "--top", "3",
                 "-o", str(tmp_path / "tasks.json"), "--ranking", str(tmp_path / "ranking.jsonl"), "--json")
    assert ranked.exit_code == 0, ranked.output
    summary = json.loads(ranked.stdout)
    assert (summary["records"], summary["queued"], summary["signal"]) == (6, 3, "entity-errors")

    ranking = [json.loads(line) for line in (tmp_path / "ranking.jsonl").open()]
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4, 5, 6]
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    assert [r["in_tasks"] for r in ranking] == [True] * 3 + [False] * 3
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert [t["data"]["id"] for t in tasks] == [r["record_id"] for r in ranking[:3]]  # ranked order
    assert [t["data"]["review"]["rank"] for t in tasks] == [1, 2, 3]
    assert all(t["data"]["review"]["reason"] for t in tasks)
    # the LLM's labels are the pre-annotations the reviewer corrects
    assert {r["value"]["labels"][0] for t in tasks for r in t["predictions"][0]["result"]} == {"ORG", "LOC"}

    # the reviewer turns each ORG into PER and submits; Label Studio exports the tasks with their annotations
    fixed = {r.id: r for r in records(GOLD)}
    for n, task in enumerate(tasks, start=1):
        result = task_of(spans_of_record(fixed[task["data"]["id"]]), kind="annotations")["annotations"][0]["result"]
        task["annotations"] = [{"id": n, "result": result, "was_cancelled": False, "completed_by": 4}]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    converted = run("convert", str(tmp_path / "export.json"), "--to", "jsonl", "-o", str(tmp_path / "gold.jsonl"))
    assert converted.exit_code == 0, converted.output
    gold = read_records(tmp_path / "gold.jsonl")
    assert [r.id for r in gold] == [t["data"]["id"] for t in tasks]
    assert all(r.tags == GOLD and r.provenance["annotator"] == "human" for r in gold)
    assert all(r.provenance["review"]["completed_by"] == 4 for r in gold)

    trained = run("train", "--regimen", "distilled_then_gold", "--gold", str(tmp_path / "gold.jsonl"),
                  "--distilled", str(tmp_path / "llm.jsonl"), "--dev", str(tmp_path / "gold.jsonl"),
                  "--base-model", str(tiny_bert_dir), "--max-steps", "2", "--batch-size", "2",
                  "--out", str(tmp_path / "run"), "--quiet", "--json")
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "model").is_dir()


def test_review_refuses_unlabelled_records_before_loading_a_model(tmp_path: Path) -> None:
    write_jsonl([Record(id="a", tokens=("x", "y"))], tmp_path / "bare.jsonl")
    refused = run("review", str(tmp_path / "bare.jsonl"), "--model", str(tmp_path / "no-model"), "--top", "1",
                  "-o", str(tmp_path / "tasks.json"))
    assert refused.exit_code == 4, refused.output
    assert "labelled" in refused.output and not (tmp_path / "tasks.json").exists()
