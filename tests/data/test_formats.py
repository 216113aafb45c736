"""Formats in and out: detection by content, HF and spaCy JSONL, Label Studio tasks and spaCy DocBin round trips."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from offline_ner.data import (
    CharSpan,
    Document,
    Record,
    SpanText,
    detect_format,
    read_records,
    record_from_spans,
    sentence_records,
    spans_of_record,
    write_records,
)
from offline_ner.data.formats.label_studio import task_of
from offline_ner.data.formats.spacy_docbin import docbin_bytes
from offline_ner.errors import DataError

CONLL = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\n"
TEXT = "Angela Merkel visited Paris on Monday.\nThe U.S. Senate met in Washington. Nobody came."


def test_conll2003_txt_files_are_read_as_conll_not_text(shared_data: Path) -> None:
    path = shared_data / "conll2003" / "valid.txt"
    assert detect_format(path) == "conll"
    records = read_records(path)
    assert len(records) == 3250 and records[0].tags is not None


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("gold.txt", CONLL, "conll"),
        ("gold.txt", "EU B-ORG\nrejects O\n", "conll"),
        ("bad.txt", "EU B-ORG\nrejects O\nGerman B-MISC extra\n", "conll"),  # the CoNLL reader names line 3
        ("docs.txt", '{"id": "a", "text": "x"}\n', "jsonl"),
        ("tasks.txt", '[{"data": {"text": "x"}}]', "label-studio"),
        ("news.conll", TEXT, "text"),
        ("news.jsonl", "Paris is big.\nBerlin too.\n", "text"),
        ("tokens.conll", "EU\nrejects\n\nPeter\n", "conll"),
    ],
)
def test_format_is_detected_from_content_not_name(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert detect_format(path) == expected


def test_input_format_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "gold.txt"
    path.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")
    assert [r.tokens for r in read_records(path, "text")] == [("EU", "B-ORG"), ("rejects", "O")]


def test_stdin_is_detected_and_read_without_losing_the_peeked_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = (CONLL * 2000).encode()  # larger than the 64 KiB detection looks at
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
    assert detect_format("-") == "conll"
    records = read_records("-")
    assert len(records) == 4000 and records[0].id == "stdin:0" and records[-1].tokens == ("Peter",)


def test_hf_jsonl_without_ids_gets_stable_ids_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    lines = [{"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]}, {"tokens": ["Peter"], "ner_tags": [1]}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(DataError, match=r"train.jsonl:2: 'ner_tags' holds integer ids but no label list"):
        read_records(path)
    records = read_records(path, labels=["O", "B-PER", "I-PER", "B-ORG", "I-ORG"])
    assert [(r.id, r.tags) for r in records] == [("train:1", ("B-ORG", "O")), ("train:2", ("B-PER",))]
    assert read_records(path, labels=["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]) == records


def test_spacy_style_text_and_spans_jsonl_is_tokenised_into_a_labelled_record(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    line = {"text": "Angela Merkel visited Paris.", "spans": [{"start": 0, "end": 13, "label": "PER"},
                                                              {"start": 22, "end": 27, "label": "LOC"}]}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    (record,) = read_records(path)
    assert record.tokens == ("Angela", "Merkel", "visited", "Paris", ".")
    assert record.tags == ("B-PER", "I-PER", "O", "B-LOC", "O")
    assert spans_of_record(record).spans == (CharSpan(0, 13, "PER"), CharSpan(22, 27, "LOC"))


def _gold_records(tmp_path: Path) -> list[Record]:
    """Records of both kinds: CoNLL sentences (no text) and sentences of a document (text, offsets, provenance)."""
    conll = tmp_path / "gold.conll"
    conll.write_text(CONLL, encoding="utf-8")
    from_text = [
        r.with_tags(["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"][: len(r.tokens)] if k == 0 else ["O"] * len(r.tokens))
        for k, r in enumerate(sentence_records(Document("doc-1", TEXT, "news.txt")))
    ]
    return read_records(conll) + from_text


def _as_export(tasks: list[dict]) -> list[dict]:
    """What Label Studio's JSON export holds after review: predictions accepted as annotations, with ids."""
    out = []
    for number, task in enumerate(tasks, start=1):
        result = task["predictions"][0]["result"]
        cancelled = {"id": 1, "result": [], "was_cancelled": True, "completed_by": 1}
        submitted = {"id": 2, "result": result, "was_cancelled": False, "ground_truth": False, "completed_by": 1,
                     "lead_time": 4.2}
        out.append({"id": number, "data": task["data"], "annotations": [submitted, cancelled],
                    "predictions": task["predictions"], "project": 1})
    return out


def test_label_studio_export_reimports_to_identical_records(tmp_path: Path) -> None:
    records = _gold_records(tmp_path)
    tasks_path = tmp_path / "tasks.json"
    write_records(records, tasks_path, "label-studio")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    region = tasks[0]["predictions"][0]["result"][0]
    assert region["from_name"] == "label" and region["to_name"] == "text" and region["type"] == "labels"
    assert region["value"] == {"start": 0, "end": 2, "text": "EU", "labels": ["ORG"]}
    export = tmp_path / "project-1-at-2026.json"
    export.write_text(json.dumps(_as_export(tasks)), encoding="utf-8")
    assert detect_format(export) == "label-studio"
    reviewed = read_records(export)  # the same records, now marked as reviewed by a person
    assert [r.with_tags(r.tags, provenance=o.provenance) for r, o in zip(reviewed, records)] == records
    assert all(r.provenance["annotator"] == "human" for r in reviewed)


def test_label_studio_corrections_change_the_tags(tmp_path: Path) -> None:
    text = "Angela Merkel visited Paris. She met Macron."
    task = task_of(SpanText("d1", text, (CharSpan(0, 13, "PER"),)))
    task["annotations"] = [{"result": task.pop("predictions")[0]["result"] + [
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 22, "end": 26, "text": "Pari", "labels": ["LOC"]}},  # a selection that cuts a word
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 37, "end": 43, "text": "Macron", "labels": ["PER"]}}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    first, second = read_records(path)
    assert (first.id, first.tags) == ("d1:0", ("B-PER", "I-PER", "O", "B-LOC", "O"))
    assert (second.id, second.tags) == ("d1:1", ("O", "O", "B-PER", "O"))


def test_label_studio_task_without_a_submitted_annotation_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 7, "data": {"text": "Paris."}, "annotations": [], "predictions": []}]))
    with pytest.raises(DataError, match="export.json task 7: no submitted annotation"):
        read_records(path)


def test_spacy_reads_our_docbin_with_entities_at_the_same_character_offsets(tmp_path: Path) -> None:
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    text = "  Angela Merkel visited\n\nParis  (France) on 3 Oct.\t"
    item = SpanText("d1", text, (CharSpan(2, 15, "PER"), CharSpan(25, 30, "LOC"), CharSpan(33, 39, "LOC")))
    records = _gold_records(tmp_path)
    path = tmp_path / "out.spacy"
    path.write_bytes(docbin_bytes([item, *map(spans_of_record, records)]))
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    assert docs[0].text == text
    assert [(e.start_char, e.end_char, e.label_) for e in docs[0].ents] == [(2, 15, "PER"), (25, 30, "LOC"),
                                                                             (33, 39, "LOC")]
    for doc, record in zip(docs[1:], records):
        expected = spans_of_record(record)
        assert doc.text == expected.text
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [(s.start, s.end, s.label)
                                                                             for s in expected.spans]
    assert detect_format(path) == "spacy"
    back = read_records(path)
    assert [(r.id, r.tokens, r.tags) for r in back[1:]] == [(r.id, r.tokens, r.tags) for r in records]


def test_record_from_spans_refuses_overlapping_spans() -> None:
    with pytest.raises(DataError, match="overlaps another span"):
        record_from_spans("r", "New York City", [CharSpan(0, 8, "LOC"), CharSpan(4, 13, "LOC")])
