"""The folder is written record by record from the journal (memory flat in the number of sentences), and says
exactly what the in-memory assembly says; inputs are kept as compact lines that rebuild the same records."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from pathlib import Path

import pytest

from offline_ner.annotate import AnnotateConfig, Journal, assemble, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.assemble import assemble_into
from offline_ner.annotate.folder import write_annotation_folder
from offline_ner.annotate.input_files import CompactRecords
from offline_ner.data import Document, Record, sentence_records
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


def test_compact_records_rebuild_the_same_records_with_offsets_and_provenance() -> None:
    records = [
        *sentence_records(Document("news-1", "Angela Merkel visited Paris. The EU met.", "news.txt")),
        Record("s1", ("EU", "rejects"), None, source="a.jsonl", provenance={"line": 3, "score": 0.25}),
    ]
    compact = CompactRecords(records)
    assert list(compact) == records and compact[1] == records[1] and compact[-1] == records[-1]
    assert len(compact) == 3 and compact[1:] == records[1:]


def test_two_inputs_that_give_the_same_record_ids_are_refused(conll_file: Path, tmp_path: Path) -> None:
    twin = tmp_path / "other" / conll_file.name  # same file name: the same ids valid:0, valid:1, ...
    twin.parent.mkdir()
    twin.write_bytes(conll_file.read_bytes())
    with pytest.raises(DataError, match="same record ids"):
        load_inputs([conll_file, twin])
    assert len(load_inputs([conll_file]).records) == 4
