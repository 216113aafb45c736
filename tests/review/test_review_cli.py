"""``offline-ner review`` end to end, through the CLI: rank LLM labels with a model, send the top K to Label
Studio, simulate the review there, add the export to gold (the rest staying distilled), and train on it: the
reviewed records say a person labelled them."""

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


def records(tags: tuple[str, ...], prefix: str = "llm") -> list[Record]:
    return [Record(id=f"{prefix}:{i}", tokens=(f"Anna{i}", "Berg", "visited", "Tarrow", "."), tags=tags)
            for i in range(6)]


def test_ranked_tasks_go_to_label_studio_and_come_back_as_human_gold(tmp_path: Path, tiny_bert_dir: Path) -> None:
    write_jsonl(records(NOISY), tmp_path / "llm.jsonl")
    ranked = run("review", "rank", str(tmp_path / "llm.jsonl"), "--model", str(tiny_bert_dir), "--top", "3",
                 "-o", str(tmp_path / "tasks.json"), "--ranking", str(tmp_path / "ranking.jsonl"), "--json")
    assert ranked.exit_code == 0, ranked.output
    summary = json.loads(ranked.stdout)
    assert (summary["records"], summary["queued"], summary["signal"]) == (6, 3, "uncertainty")

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
    write_jsonl(records(GOLD, "gold")[:4], tmp_path / "gold.jsonl")
    merged = run("review", "merge", str(tmp_path / "llm.jsonl"), str(tmp_path / "export.json"), "--gold",
                 str(tmp_path / "gold.jsonl"), "--gold-out", str(tmp_path / "gold-reviewed.jsonl"),
                 "-o", str(tmp_path / "distilled.jsonl"), "--json")
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout)["gold"] == 7 and json.loads(merged.stdout)["distilled"] == 3
    queued = {t["data"]["id"] for t in tasks}
    distilled = read_records(tmp_path / "distilled.jsonl")
    assert {r.id for r in distilled} == {f"llm:{i}" for i in range(6)} - queued  # the reviewed ones left
    assert all(r.tags == NOISY for r in distilled)
    gold = read_records(tmp_path / "gold-reviewed.jsonl")
    assert [r.id for r in gold[:4]] == [f"gold:{i}" for i in range(4)]
    for record in gold[4:]:  # corrected by a person, and says so
        assert record.id in queued and record.tags == GOLD and record.provenance["annotator"] == "human"
        assert record.provenance["review"]["completed_by"] == 4

    trained = run("train", "--regimen", "distilled_then_gold", "--gold", str(tmp_path / "gold-reviewed.jsonl"),
                  "--distilled", str(tmp_path / "distilled.jsonl"), "--dev", str(tmp_path / "gold.jsonl"),
                  "--base-model", str(tiny_bert_dir), "--max-steps", "2", "--batch-size", "2",
                  "--out", str(tmp_path / "run"), "--quiet", "--json")
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "model").is_dir()


def test_merge_refuses_a_reviewed_sentence_with_other_tokens_and_writes_nothing(tmp_path: Path) -> None:
    write_jsonl(records(NOISY), tmp_path / "llm.jsonl")
    changed = Record(id="llm:2", tokens=("Someone", "else", "."), tags=("B-PER", "O", "O"))
    write_jsonl([changed], tmp_path / "reviewed.jsonl")
    refused = run("review", "merge", str(tmp_path / "llm.jsonl"), str(tmp_path / "reviewed.jsonl"),
                  "--into", "distilled", "-o", str(tmp_path / "out.jsonl"))
    assert refused.exit_code == 4, refused.output
    assert "llm:2" in refused.output and "tokens differ" in refused.output
    assert not (tmp_path / "out.jsonl").exists()


def test_review_refuses_unlabelled_records_before_loading_a_model(tmp_path: Path) -> None:
    write_jsonl([Record(id="a", tokens=("x", "y"))], tmp_path / "bare.jsonl")
    refused = run("review", "rank", str(tmp_path / "bare.jsonl"), "--model", str(tmp_path / "no-model"), "--top", "1",
                  "-o", str(tmp_path / "tasks.json"))
    assert refused.exit_code == 4, refused.output
    assert "labelled" in refused.output and not (tmp_path / "tasks.json").exists()
