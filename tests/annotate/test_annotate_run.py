"""A whole run through the library: journal, dedup, budget, selection, provenance, QA, demonstrations."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from offline_ner.annotate import (
    AnnotateConfig,
    Journal,
    annotate,
    count_message_tokens,
    load_inputs,
    load_prices,
    load_template,
    plan_run,
)
from offline_ner.annotate.client import LLMClient
from offline_ner.annotate.cost import count_tokens
from offline_ner.contracts import AnnotationSummary, RequestStats
from offline_ner.data import Record, iob2_violations, read_jsonl
from offline_ner.errors import AnnotateError, BudgetExceededError, ConfigError, LLMAuthError, LLMReplyError
from tests.annotate.llm_server import LLMServer, Reply, completion, perfect_reply, tokens_of


def run(cfg: AnnotateConfig, inputs: list[Path], out: Path, demos: list[Record] = (), **kwargs: object) -> dict:
    plan = plan_run(load_inputs(inputs), cfg, load_template(cfg.template), demos)
    journal = Journal(out.parent / f"{out.name}.sqlite")
    try:
        return annotate(plan, out=out, journal=journal, client=LLMClient(cfg), prices=load_prices(None), **kwargs)
    finally:
        journal.close()


def test_run_writes_llm_tags_with_provenance_and_qa_against_the_kept_gold(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    summary = run(cfg, [conll_file], tmp_path / "ann")
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert [r.tags for r in records][1] == ("B-PER", "I-PER")
    prov = records[0].provenance
    assert prov["model"] == "gpt-4o-2024-08-06" and prov["system_fingerprint"] == "fp_test"
    assert prov["request_id"].startswith("req_") and prov["timestamp"] == "2024-11-19T07:06:40Z"
    assert prov["template"]["name"] == "fewshot_conll" and len(prov["template"]["sha256"]) == 64
    assert prov["parse_mode"] == "json" and prov["response_format"] == "json_schema"
    assert prov["parameters"] == {"temperature": 0.0, "max_tokens": 1024} and prov["alignment"]["exact"] == 2
    run_prov = json.loads((tmp_path / "ann" / "provenance.json").read_text())
    assert run_prov["models"] == ["gpt-4o-2024-08-06"] and run_prov["inputs"][0]["path"] == "valid.conll"
    assert run_prov["usage"]["total_tokens"] == 360 and run_prov["cost_usd"] > 0
    qa = json.loads((tmp_path / "ann" / "qa.json").read_text())
    assert qa["final"]["overall"]["f1"] == 1.0 and qa["final"]["entity_agreement"]["PER"]["exact"] == 1
    assert summary.this_run.sent == 3


def test_identical_sentences_are_sent_once(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    run(cfg, [conll_file], tmp_path / "ann")
    assert len(llm_server.chat_requests()) == 3  # 4 records, two of them identical


def test_rerun_with_the_journal_sends_nothing_and_writes_identical_bytes(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    run(cfg, [conll_file], tmp_path / "ann")
    first = {p.name: p.read_bytes() for p in (tmp_path / "ann").iterdir()}
    summary = run(cfg, [conll_file], tmp_path / "ann")
    assert summary.this_run == RequestStats(sent=0, journal_hits=3, retries=0, spent_usd=0.0)
    assert {p.name: p.read_bytes() for p in (tmp_path / "ann").iterdir()} == first
    assert len(llm_server.chat_requests()) == 3


def test_changing_the_template_misses_the_cache(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    run(cfg, [conll_file], tmp_path / "ann")
    run(dataclasses.replace(cfg, template="cot_conll"), [conll_file], tmp_path / "ann")
    assert len(llm_server.chat_requests()) == 6


def test_budget_stops_cleanly_and_keeps_the_replies_so_far(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def verbose(request: dict, n: int) -> Reply:
        reply = perfect_reply(request, n)
        reply.body["usage"] = {"prompt_tokens": 100, "completion_tokens": 1000, "total_tokens": 1100}
        return reply

    llm_server.responder = verbose
    # each reply costs $0.01025; the worst case reserved before a request is ~$0.0109: room for two, not three
    small = dataclasses.replace(cfg, concurrency=1)
    with pytest.raises(BudgetExceededError) as info:
        run(small, [conll_file], tmp_path / "ann", budget_usd=0.023)
    provenance = json.loads((tmp_path / "ann" / "provenance.json").read_text())
    assert provenance["complete"] is False and provenance["replies"] == 2
    assert info.value.exit_code == 16
    run(small, [conll_file], tmp_path / "ann")
    assert len(llm_server.chat_requests()) == 3


def test_budget_for_an_unpriced_model_is_a_config_error(cfg: AnnotateConfig, conll_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="price"):
        run(dataclasses.replace(cfg, model="my-local-model"), [conll_file], tmp_path / "ann", budget_usd=1.0)


def test_auth_failure_stops_the_run_and_writes_nothing(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = lambda request, n: Reply(401, {"error": {"message": "bad key", "code": "invalid_api_key"}})
    with pytest.raises(LLMAuthError):
        run(dataclasses.replace(cfg, concurrency=1), [conll_file], tmp_path / "ann")
    assert not (tmp_path / "ann").exists()
    assert len(llm_server.chat_requests()) == 1


def prose_answer(request: dict, n: int) -> Reply:
    tokens = tokens_of(request)
    entities = [{"first": i + 1, "last": i + 1, "text": t, "type": "ORG"} for i, t in enumerate(tokens) if t == "EU"]
    text = "Sure! Here you go:\n```json\n" + json.dumps({"entities": entities}) + "\n```"
    return Reply(body=completion(text, request, n))


def test_prose_replies_with_wrong_indices_are_extracted_and_recovered(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = prose_answer
    summary = run(cfg, [conll_file], tmp_path / "ann")
    assert summary.provenance["parse_modes"] == {"extracted": 4}
    assert summary.provenance["alignment"]["recovered"] == 2
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert records[0].tags[0] == "B-ORG"


def test_unparsable_reply_is_listed_as_failed_not_dropped_silently(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    llm_server.responder = lambda request, n: Reply(body=completion("I cannot help with that.", request, n))
    with pytest.raises(LLMReplyError) as raised:
        run(cfg, [conll_file], tmp_path / "ann")
    summary = raised.value.report
    assert isinstance(summary, AnnotationSummary) and summary.records_out == 0
    assert [f["id"] for f in summary.failed] == ["valid:0", "valid:1", "valid:2", "valid:3"]
    assert json.loads((tmp_path / "ann" / "provenance.json").read_text())["failed"] == list(summary.failed)


def test_k_of_n_agreement_keeps_only_entities_most_samples_agree_on(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def flaky(request: dict, n: int) -> Reply:
        tokens = tokens_of(request)
        entities = [{"first": i, "last": i, "text": t, "type": "ORG"} for i, t in enumerate(tokens) if t == "EU"]
        with lock:
            seen[" ".join(tokens)] += 1
            count = seen[" ".join(tokens)]
        if count == 3:  # the third sample of a sentence also claims "rejects" is a person
            entities += [{"first": 1, "last": 1, "text": "rejects", "type": "PER"}] if "rejects" in tokens else []
        return Reply(body=completion(json.dumps({"entities": entities}), request, n))

    llm_server.responder = flaky
    summary = run(dataclasses.replace(cfg, samples=3, agree_k=2, temperature=0.7), [conll_file], tmp_path / "ann")
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert records[0].tags[:2] == ("B-ORG", "O")
    assert summary.provenance["selection"]["agreement"]["proposed"] > summary.provenance["selection"]["agreement"]["kept"]
    # every sample's tags travel with the record, so a later k_of_n selection can vote again with another k
    samples = records[0].provenance["sample_tags"]
    assert len(samples) == 3 and sorted(t[1] for t in samples) == ["B-PER", "O", "O"]
    assert len(llm_server.chat_requests()) == 9


def test_dropping_records_with_alignment_problems_is_reported(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def half_wrong(request: dict, n: int) -> Reply:
        tokens = tokens_of(request)
        entities = [{"first": 0, "last": 0, "text": "Nowhere", "type": "LOC"}] if "Peter" in tokens else []
        return Reply(body=completion(json.dumps({"entities": entities}), request, n))

    llm_server.responder = half_wrong
    summary = run(dataclasses.replace(cfg, drop_alignment_problems=True), [conll_file], tmp_path / "ann")
    assert summary.provenance["selection"]["drop_alignment_problems"] == {"dropped_records": 1}
    assert summary.records_out == 3 and summary.provenance["alignment"]["text_mismatch"] == 1


def test_demonstrations_overlapping_the_input_are_refused(cfg: AnnotateConfig, conll_file: Path) -> None:
    demo = Record("train:7", ("Peter", "Blackburn"), ("B-PER", "I-PER"))
    with pytest.raises(AnnotateError, match="never from the split"):
        plan_run(load_inputs([conll_file]), cfg, load_template("fewshot_conll"), [demo])


def test_demonstrations_become_user_assistant_turns(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    demo = Record("train:7", ("Anne", "Murray", "sings"), ("B-PER", "I-PER", "O"))
    run(cfg, [conll_file], tmp_path / "ann", demos=[demo])
    messages = llm_server.chat_requests()[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert json.loads(messages[2]["content"]) == {
        "entities": [{"first": 0, "last": 1, "text": "Anne Murray", "type": "PER"}]
    }


def test_text_folder_input_keeps_offsets_and_document_provenance(
    llm_server: LLMServer, cfg: AnnotateConfig, tmp_path: Path
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Peter Blackburn flew to London.\nThe EU said no.", encoding="utf-8")
    summary = run(cfg, [folder], tmp_path / "ann")
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert records[0].tags == ("B-PER", "I-PER", "O", "O", "B-LOC", "O")
    assert records[0].offsets[4] == (24, 30) and records[1].provenance["document"] == "a"
    assert all(not iob2_violations(r.tags) for r in records)
    assert summary.qa is None and not (tmp_path / "ann" / "qa.json").exists()


def test_jsonl_input_tags_are_kept_aside_as_gold(llm_server: LLMServer, cfg: AnnotateConfig, tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "a", "tokens": ["EU", "talks"], "tags": ["B-LOC", "O"]}\n', encoding="utf-8")
    summary = run(cfg, [path], tmp_path / "ann")
    assert read_jsonl(tmp_path / "ann" / "records.jsonl")[0].tags == ("B-ORG", "O")  # the LLM's, not gold's
    assert summary.qa["f1"] == 0.0


def test_run_keeps_at_most_concurrency_requests_in_flight(cfg: AnnotateConfig, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "s{i}", "tokens": ["item{i}", "EU"]}}\n' for i in range(9)), encoding="utf-8")
    with LLMServer(latency_s=0.3) as server:
        started = time.monotonic()
        run(dataclasses.replace(cfg, base_url=server.base_url, concurrency=3), [path], tmp_path / "ann")
        elapsed = time.monotonic() - started
    assert server.max_active == 3
    assert elapsed < 9 * 0.3  # three waves, not nine sequential requests


def test_failed_record_counts_its_gold_entities_as_misses_and_lowers_coverage(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def refuses_peter(request: dict, n: int) -> Reply:
        if "Peter" in tokens_of(request):
            return Reply(body=completion("I cannot help with that.", request, n))
        return perfect_reply(request, n)

    llm_server.responder = refuses_peter
    summary = run(dataclasses.replace(cfg, max_failed=0.25), [conll_file], tmp_path / "ann")
    qa = json.loads((tmp_path / "ann" / "qa.json").read_text())
    assert qa["final"]["overall"]["recall"] == pytest.approx(5 / 6, abs=1e-4)  # Peter Blackburn missed
    assert qa["final"]["entity_agreement"]["PER"]["missed"] == 1
    assert qa["final"]["labelled_only"]["f1"] == 1.0
    assert qa["coverage"] == {"gold_records": 4, "labelled": 3, "failed": 1, "skipped": 0, "fraction": 0.75}
    assert summary.qa["f1"] < 1.0 and summary.coverage["fraction"] == 0.75


def test_records_dropped_by_selection_are_skipped_misses_in_qa(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    def wrong_for_peter(request: dict, n: int) -> Reply:
        if "Peter" in tokens_of(request):
            entities = [{"first": 0, "last": 1, "text": "Nowhere", "type": "PER"}]
            return Reply(body=completion(json.dumps({"entities": entities}), request, n))
        return perfect_reply(request, n)

    llm_server.responder = wrong_for_peter
    run(dataclasses.replace(cfg, drop_alignment_problems=True), [conll_file], tmp_path / "ann")
    qa = json.loads((tmp_path / "ann" / "qa.json").read_text())
    assert qa["coverage"]["skipped"] == 1 and qa["coverage"]["failed"] == 0
    assert qa["final"]["entity_agreement"]["PER"]["missed"] == 1
    assert qa["before_selection"]["overall"]["f1"] == 1.0


def test_budget_is_never_exceeded_under_16_way_concurrency(cfg: AnnotateConfig, tmp_path: Path) -> None:
    # the server bills like OpenAI: the prompt includes the json_schema response_format (145 tokens here, which the
    # reservation used to leave out), and every reply uses all of max_tokens, the worst case the budget reserves
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "s{i}", "tokens": ["item{i}", "EU"]}}\n' for i in range(120)), encoding="utf-8")
    small = dataclasses.replace(cfg, concurrency=16, max_tokens=64)

    def bills_usage(request: dict, n: int) -> Reply:
        reply = perfect_reply(request, n)
        prompt = count_message_tokens(request["messages"]) + count_tokens(json.dumps(request["response_format"]))
        reply.body["usage"] = {"prompt_tokens": prompt, "completion_tokens": 64, "total_tokens": prompt + 64}
        return reply

    prices = load_prices(None)
    plan = plan_run(load_inputs([path]), small, load_template(small.template))
    budget = 0.05
    for trial in range(2):
        with LLMServer(latency_s=0.2) as server:  # long enough for all 16 threads to be in flight at once
            server.responder = bills_usage
            with pytest.raises(BudgetExceededError):
                run(dataclasses.replace(small, base_url=server.base_url), [path], tmp_path / f"ann{trial}",
                    budget_usd=budget)  # fmt: skip
            provenance = json.loads((tmp_path / f"ann{trial}" / "provenance.json").read_text())
            assert server.max_active == 16
        assert 0 < provenance["cost_usd"] <= budget, (trial, provenance["replies"])
        # and it used the budget: it stopped less than two requests short of the limit
        assert provenance["cost_usd"] + 2 * prices.cost_usd(small.model, input_tokens=400, output_tokens=64) > budget
    assert len(plan.requests) == 120


@pytest.mark.parametrize(
    ("content", "tags", "counts"),
    [
        ("{}", ("O", "O", "O", "O", "O"), {}),
        ("[]", ("O", "O", "O", "O", "O"), {}),
        ('{"PER": []}', ("O", "O", "O", "O", "O"), {}),
        ('{"entities": [{"first": 0, "last": 0, "text": "EU", "type": "ORG"', ("B-ORG", "O", "O", "O", "O"),
         {"exact": 1}),
        ('{"EU": "ORG", "German": "MISC"}', ("B-ORG", "O", "B-MISC", "O", "O"), {"recovered": 2}),
        ('{"entities": [{"text": "eu", "type": "ORG"}, {"text": "german,", "type": "MISC"}]}',
         ("B-ORG", "O", "B-MISC", "O", "O"), {"casefold": 1, "punctuation": 1}),
    ],
)  # fmt: skip
def test_real_reply_shapes_parse_and_align_in_a_run(
    llm_server: LLMServer, cfg: AnnotateConfig, tmp_path: Path, content: str, tags: tuple, counts: dict
) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text('{"id": "s", "tokens": ["EU", "rejects", "German", "call", "."]}\n', encoding="utf-8")
    llm_server.responder = lambda request, n: Reply(body=completion(content, request, n))
    summary = run(cfg, [path], tmp_path / "ann")
    assert summary.failed == [] and read_jsonl(tmp_path / "ann" / "records.jsonl")[0].tags == tags
    assert {k: v for k, v in summary.provenance["alignment"].items() if v} == counts
