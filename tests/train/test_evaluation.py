"""Evaluation: seqeval entity scores in default and strict IOB2 modes, and a model scored end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline_ner.data import Record, read_conll
from offline_ner.errors import DataError
from offline_ner.train import EvalReport, evaluate_model
from offline_ner.train.evaluation import score_tags

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]


def test_perfect_prediction_scores_one_per_type() -> None:
    report = score_tags(GOLD, GOLD)
    assert (report.precision, report.recall, report.f1) == (1.0, 1.0, 1.0)
    assert set(report.per_type) == {"PER", "LOC", "ORG"}
    assert report.support == 3


def test_strict_mode_rejects_an_entity_that_starts_with_i() -> None:
    predicted = [["I-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    assert score_tags(GOLD, predicted).f1 == 1.0  # conlleval: a dangling I- starts an entity
    strict = score_tags(GOLD, predicted, mode="strict")
    assert strict.per_type["PER"]["r"] == 0.0 and strict.f1 < 1.0


def test_report_json_and_table_carry_every_type() -> None:
    report = score_tags(GOLD, [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O"]])
    data = report.to_json()
    assert data["recall"] == pytest.approx(2 / 3) and data["per_type"]["LOC"]["support"] == 1
    assert "LOC" in report.table() and "micro" in report.table()


def test_model_is_evaluated_on_every_word_of_a_long_record(tiny_bert_dir: Path, no_network: None) -> None:
    long = Record(id="l", tokens=("Paris",) * 300, tags=("B-LOC",) * 300)
    report = evaluate_model(tiny_bert_dir, [long], mode="strict", max_length=32, overlap_tokens=8)
    assert isinstance(report, EvalReport)
    assert report.support == 300  # all words scored, none lost to truncation


def test_the_report_counts_invalid_iob2_tags() -> None:
    predicted = [["I-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-LOC"]]
    report = score_tags(GOLD, predicted)
    assert report.invalid_tags == 2 and report.to_json()["invalid_tags"] == 2
    assert "2 invalid IOB2 tags" in report.table()


def test_evaluation_decodes_valid_iob2_by_default(tiny_bert_dir: Path, no_network: None, tmp_path: Path) -> None:
    # the random model's argmax breaks IOB2; Viterbi decoding leaves no invalid tag, so both modes agree
    conll = tmp_path / "gold.conll"
    conll.write_text("".join(f"Word{i} B-PER\nParis I-PER\nBerlin O\nRome B-LOC\n\n" for i in range(12)))
    records = read_conll(conll) + [Record(id="l", tokens=("Paris", "Rome") * 40, tags=("B-LOC", "O") * 40)]
    argmax = evaluate_model(tiny_bert_dir, records, max_length=24, decode="argmax", overlap_tokens=4)
    viterbi = evaluate_model(tiny_bert_dir, records, max_length=24, overlap_tokens=4)
    strict = evaluate_model(tiny_bert_dir, records, max_length=24, mode="strict", overlap_tokens=4)
    assert argmax.invalid_tags > 0 and viterbi.invalid_tags == 0
    assert (viterbi.precision, viterbi.recall) == (strict.precision, strict.recall)


def test_unlabelled_records_cannot_be_evaluated(tiny_bert_dir: Path) -> None:
    with pytest.raises(DataError, match="no tags"):
        evaluate_model(tiny_bert_dir, [Record(id="u", tokens=("x",))])
