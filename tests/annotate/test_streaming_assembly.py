"""The folder is written record by record from the journal (memory flat in the number of sentences), and says
exactly what the in-memory assembly says; inputs are read again from their files on each pass, not held."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from offline_ner.annotate import (
    AnnotateConfig,
    Journal,
    annotate,
    assemble,
    load_inputs,
    load_prices,
    load_template,
    plan_run,
)
from offline_ner.annotate.assemble import assemble_into
from offline_ner.annotate.client import LLMClient
from offline_ner.annotate.folder import write_annotation_folder
from offline_ner.annotate.journal import canonical_json_text
from offline_ner.data import iter_text_folder, sentence_records
from offline_ner.errors import DataError
from tests.annotate.flows import annotate_file
from tests.annotate.llm_server import LLMServer, Reply, completion, perfect_reply, tokens_of


def test_streamed_folder_is_byte_identical_to_the_in_memory_assembly_with_every_stage_on(
    llm_server: LLMServer, cfg: AnnotateConfig, conll_file: Path, tmp_path: Path
) -> None:
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def samples_disagree(request: dict, n: int) -> Reply:
        with lock:
            seen[" ".join(tokens_of(request))] += 1
            count = seen[" ".join(tokens_of(request))]
        if count == 2 and "Peter" in tokens_of(request):  # one sample misplaces the person: an alignment problem
            return Reply(body=completion('{"entities": [{"text": "Pieter", "type": "PER"}]}', request, n))
        return perfect_reply(request, n)

    llm_server.responder = samples_disagree  # verification requests are answered by the server itself
    llm_server.rejected = {"German"}
    every = dataclasses.replace(cfg, samples=3, agree_k=2, temperature=0.7, verify=True, drop_alignment_problems=True)
    annotate_file(every, conll_file, tmp_path / "ann")
    plan = plan_run(load_inputs([conll_file]), every, load_template(every.template))
    journal = Journal(tmp_path / "ann.sqlite")
    try:
        result = assemble(plan, journal, load_prices(None))
        write_annotation_folder(tmp_path / "memory", result.records, result.provenance, result.qa)
        assemble_into(tmp_path / "streamed", plan, journal, load_prices(None))
    finally:
        journal.close()
    for name in ("records.jsonl", "provenance.json", "qa.json"):
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes(), name
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "ann" / name).read_bytes(), name
    provenance = result.provenance
    assert provenance["selection"]["drop_alignment_problems"]["dropped_records"] == 1
    assert provenance["selection"]["verification"]["rejected"] == 2 and result.qa is not None


def test_input_records_are_read_again_from_the_files_with_offsets_and_provenance(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Angela Merkel visited Paris. The EU met.", encoding="utf-8")
    conll = tmp_path / "valid.conll"
    conll.write_text("EU B-ORG\nrejects O\n\nPeter B-PER\n", encoding="utf-8")
    inputs = load_inputs([folder, conll])
    expected = [r for document in iter_text_folder(folder) for r in sentence_records(document)]
    first, second = list(inputs.records), list(inputs.records)
    assert first == second and len(inputs.records) == len(first) == 4
    assert first[:2] == expected and first[0].provenance == expected[0].provenance
    assert all(r.tags is None for r in first) and inputs.gold["valid:0"] == ("B-ORG", "O")


def test_an_input_edited_during_the_run_is_refused_on_the_next_pass(conll_file: Path) -> None:
    inputs = load_inputs([conll_file])
    conll_file.write_text(conll_file.read_text(encoding="utf-8").replace("Peter", "Pieter"), encoding="utf-8")
    with pytest.raises(DataError, match="input changed during the run"):
        list(inputs.records)


def test_two_inputs_that_give_the_same_record_ids_are_refused(conll_file: Path, tmp_path: Path) -> None:
    twin = tmp_path / "other" / conll_file.name  # same file name: the same ids valid:0, valid:1, ...
    twin.parent.mkdir()
    twin.write_bytes(conll_file.read_bytes())
    with pytest.raises(DataError, match=f"^{re.escape(str(twin))}: record id valid:0 occurs twice: .*same record ids"):
        load_inputs([conll_file, twin])
    assert len(load_inputs([conll_file]).records) == 4


def _traced_run_bytes(cfg: AnnotateConfig, folder: Path, sentences: int) -> int:
    """Peak bytes Python allocates to read, plan and run ``sentences`` distinct sentences whose replies are all in
    the journal already (the send pass finds each one there), writing the folder."""
    folder.mkdir()
    path = folder / "input.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(sentences):
            handle.write(json.dumps({"id": f"s{i}", "tokens": [f"Name{i}", "met", "Peter", "in", "Paris"]}) + "\n")
    template = load_template(cfg.template)
    inputs = load_inputs([path])
    rows = []
    for record, (key,) in zip(inputs.records, plan_run(inputs, cfg, template).keys_by_record):
        content = json.dumps({"entities": [{"first": 2, "last": 2, "text": "Peter", "type": "PER"}]})
        body = completion(content, {}, 0) | {"id": f"chatcmpl-{record.id}"}
        rows.append((key, canonical_json_text({"body": body, "response_format": cfg.response_format, "attempts": 1})))
    Journal(folder / "journal.sqlite").close()  # the schema; one transaction, where a put per row fsyncs each
    with sqlite3.connect(folder / "journal.sqlite") as db:
        db.executemany("INSERT INTO exchanges VALUES (?, ?)", rows)
    del inputs, rows
    journal = Journal(folder / "journal.sqlite")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plan = plan_run(load_inputs([path]), cfg, template)
        summary = annotate(plan, out=folder / "ann", journal=journal, client=LLMClient(cfg), prices=load_prices(None))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        journal.close()
    assert summary.records_out == sentences and summary.this_run is not None and summary.this_run.sent == 0
    return peak


def test_a_run_holds_no_record_its_memory_does_not_grow_with_the_number_of_sentences(
    cfg: AnnotateConfig, tmp_path: Path
) -> None:
    # the plan keeps ~50 bytes a sentence (key, prompt tokens, first use, input fingerprint); holding each record,
    # or its request, or a set of keys, costs hundreds of bytes a sentence more
    _traced_run_bytes(cfg, tmp_path / "warm", 50)  # imports, templates and tokeniser caches
    small = _traced_run_bytes(cfg, tmp_path / "small", 500)
    large = _traced_run_bytes(cfg, tmp_path / "large", 5_000)
    assert (large - small) / 4_500 < 150, f"{(large - small) / 4_500:.0f} bytes more per sentence ({small=}, {large=})"
