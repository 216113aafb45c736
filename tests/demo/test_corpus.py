"""The demo corpus is valid IOB2 CoNLL, lines up with its raw articles, and scores perfectly against itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_ner.data import iob2_violations, iter_text_folder, read_conll, sentence_records
from offline_ner.demo import demo_dir
from offline_ner.demo.score import score_predictions
from offline_ner.errors import DataError

CORPUS = demo_dir() / "corpus"


@pytest.mark.parametrize(("split", "minimum"), [("train", 140), ("dev", 30), ("test", 70)])
def test_every_split_is_valid_iob2_over_the_conll_types(split: str, minimum: int) -> None:
    records = read_conll(CORPUS / f"{split}.conll")
    assert len(records) >= minimum
    assert all(not iob2_violations(r.tags or ()) for r in records)
    types = {span.label for r in records for span in r.spans()}
    assert types == {"PER", "ORG", "LOC", "MISC"}


def test_held_out_articles_tokenise_exactly_into_the_test_gold_sentences() -> None:
    from_text = [r.tokens for doc in iter_text_folder(CORPUS / "test") for r in sentence_records(doc)]
    assert from_text == [r.tokens for r in read_conll(CORPUS / "test.conll")]


def test_unlabelled_articles_are_plain_text_without_markup() -> None:
    texts = [doc.text for doc in iter_text_folder(CORPUS / "unlabelled")]
    assert len(texts) >= 3 and not any("[" in t or "]" in t for t in texts)


def gold_predictions(path: Path, drop_type: str | None = None) -> None:
    """Write predict-style rows whose entities are the gold spans as character offsets."""
    gold = iter(read_conll(CORPUS / "test.conll"))
    rows = []
    for doc in iter_text_folder(CORPUS / "test"):
        entities = []
        for record in sentence_records(doc):
            base = record.provenance["char_start"]
            for span in next(gold).spans():
                if span.label == drop_type:
                    continue
                start, end = record.offsets[span.start][0] + base, record.offsets[span.end - 1][1] + base
                entities.append({"type": span.label, "start": start, "end": end, "text": doc.text[start:end]})
        rows.append({"id": doc.id, "entities": entities})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_gold_spans_as_predictions_score_one(tmp_path: Path) -> None:
    gold_predictions(tmp_path / "p.jsonl")
    report = score_predictions(tmp_path / "p.jsonl", CORPUS / "test", CORPUS / "test.conll")
    assert report.f1 == pytest.approx(1.0)


def test_missing_type_lowers_recall_only(tmp_path: Path) -> None:
    gold_predictions(tmp_path / "p.jsonl", drop_type="ORG")
    report = score_predictions(tmp_path / "p.jsonl", CORPUS / "test", CORPUS / "test.conll")
    assert report.precision == pytest.approx(1.0) and report.recall < 0.8
    assert report.per_type["ORG"]["r"] == 0.0


def test_article_without_a_prediction_row_is_named(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "01-wildfire", "entities": []}) + "\n")
    with pytest.raises(DataError, match="no prediction for article '02-tennis'"):
        score_predictions(tmp_path / "p.jsonl", CORPUS / "test", CORPUS / "test.conll")
