"""Batch API mode against the local server's files and batches endpoints; offline merge of a downloaded file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig, Journal, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.batch import batch_input, merge_batch_output, run_batch, submit_batch
from offline_ner.annotate.client import LLMClient
from offline_ner.data import read_jsonl
from offline_ner.errors import ConfigError
from tests.annotate.llm_server import LLMServer, Reply, error_body, perfect_reply


def make_plan(cfg: AnnotateConfig, conll_file: Path):
    return plan_run(load_inputs([conll_file]), cfg, load_template("fewshot_conll"))


def test_batch_run_submits_polls_merges_and_writes_the_folder(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    plan = make_plan(cfg, conll_file)
    journal = Journal(tmp_path / "j.sqlite")
    summary = run_batch(
        plan, LLMClient(cfg), journal, out=tmp_path / "ann", prices=load_prices(None), poll_interval_s=0
    )
    assert summary.provenance["batch"]["merged"] == 3 and summary.provenance["batch"]["errors"] == []
    assert summary.provenance["mode"] == "batch" and summary.records_out == 4
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert records[1].tags == ("B-PER", "I-PER")
    uploads = [body for method, path, body in llm_server.log if path.endswith("/files")]
    assert uploads == [{"purpose": "batch"}]
    lines = [json.loads(x) for x in next(iter(llm_server.files.values())).decode().splitlines()]
    assert {x["custom_id"] for x in lines} == {r.key for r in plan.requests}
    assert lines[0]["url"] == "/v1/chat/completions" and lines[0]["body"]["response_format"]["type"] == "json_schema"


def test_batch_error_file_entries_are_reported_and_their_records_listed_as_failed(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def reject_peter(request: dict, n: int) -> Reply:
        if "Peter" in request["messages"][-1]["content"]:
            return Reply(400, error_body("invalid request"))
        return perfect_reply(request, n)

    llm_server.responder = reject_peter
    plan = make_plan(dataclasses.replace(cfg, max_failed=0.25), conll_file)
    summary = run_batch(
        plan, LLMClient(cfg), Journal(tmp_path / "j.sqlite"), out=tmp_path / "ann", prices=load_prices(None),
        poll_interval_s=0,
    )  # fmt: skip
    assert len(summary.provenance["batch"]["errors"]) == 1 and summary.provenance["batch"]["errors"][0]["status"] == 400
    assert [f["id"] for f in summary.failed] == ["valid:1"]
    assert summary.provenance["complete"] is False


def test_restarted_batch_run_resumes_the_stored_batch_instead_of_resubmitting(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    plan = make_plan(cfg, conll_file)
    journal = Journal(tmp_path / "j.sqlite")
    batch_id = submit_batch(plan, LLMClient(cfg), journal)  # the process "dies" after submitting
    journal.close()
    journal = Journal(tmp_path / "j.sqlite")
    summary = run_batch(
        plan, LLMClient(cfg), journal, out=tmp_path / "ann", prices=load_prices(None), poll_interval_s=0
    )
    assert summary.provenance["batch"]["id"] == batch_id
    assert len([1 for method, path, _ in llm_server.log if method == "POST" and path.endswith("/batches")]) == 1


def test_downloaded_batch_output_merges_offline(cfg: AnnotateConfig, conll_file: Path, tmp_path: Path) -> None:
    plan = make_plan(dataclasses.replace(cfg, base_url="http://127.0.0.1:9/v1"), conll_file)
    journal = Journal(tmp_path / "j.sqlite")
    data, keys = batch_input(plan, journal)
    output = []
    for i, line in enumerate(data.decode().splitlines()):
        item = json.loads(line)
        body = perfect_reply(item["body"], i).body
        output.append(
            json.dumps(
                {
                    "id": f"b{i}",
                    "custom_id": item["custom_id"],
                    "response": {"status_code": 200, "request_id": f"r{i}", "body": body},
                    "error": None,
                }
            )
        )
    output.append(json.dumps({"id": "bx", "custom_id": "not-ours", "response": {"status_code": 200, "body": {}}}))
    report = merge_batch_output(plan, journal, ("\n".join(output) + "\n").encode())
    assert report.merged == 3 and report.unknown == 1
    assert journal.keys() == set(keys)


def test_batch_mode_refuses_self_verification_before_uploading(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    plan = plan_run(load_inputs([conll_file]), dataclasses.replace(cfg, verify=True), load_template("fewshot_conll"))
    journal = Journal(tmp_path / "j.sqlite")
    with pytest.raises(ConfigError, match="annotate run --verify"):
        run_batch(plan, LLMClient(plan.cfg), journal, out=tmp_path / "ann", prices=load_prices(None))
    journal.close()
    assert llm_server.log == []
