"""Importing existing LLM label files: NoiseBench's GPT labels reproduce their published quality vs gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_ner.annotate import ImportSpec, import_labels, write_annotation_folder
from offline_ner.data import read_jsonl
from offline_ner.errors import DataError

NOISEBENCH = Path("llm-annotations/noisebench-conll03/noisebench_conll03_aligned.jsonl")


def test_noisebench_import_reproduces_the_measured_llm_quality(shared_data: Path, tmp_path: Path) -> None:
    spec = ImportSpec(llm_field="noise_llm", gold_field="gold_conll2003", model="gpt-3.5-turbo (NoiseBench)")
    result = import_labels(shared_data / NOISEBENCH, spec)
    final = result.qa["final"]
    assert final["sentences"] == 5885
    assert (final["overall"]["precision"], final["overall"]["recall"], final["overall"]["f1"]) == pytest.approx(
        (0.512, 0.603, 0.554), abs=5e-4
    )
    per_type = {t: row["f1"] for t, row in final["per_type"].items()}
    assert per_type == pytest.approx({"PER": 0.855, "LOC": 0.656, "ORG": 0.464, "MISC": 0.135}, abs=1e-3)
    write_annotation_folder(tmp_path / "ann", result.records, result.provenance, result.qa)
    first = read_jsonl(tmp_path / "ann" / "records.jsonl")[0]
    assert first.tags == ("B-MISC", "I-MISC", "O", "O", "O", "O", "O", "O")  # the LLM's tags, not gold
    assert first.provenance["source_fields"]["conll_train_sentence_index"] == 6084
    provenance = json.loads((tmp_path / "ann" / "provenance.json").read_text())
    assert provenance["mode"] == "import" and len(provenance["inputs"][0]["sha256"]) == 64


def test_conll_columns_import_repairs_and_counts_dangling_inside_tags(tmp_path: Path) -> None:
    path = tmp_path / "labels.conll"
    path.write_text("EU B-ORG I-ORG\nrejects O O\n\nPeter B-PER B-PER\nBlackburn I-PER I-PER\n", encoding="utf-8")
    result = import_labels(path, ImportSpec(llm_column=2, gold_column=1))
    assert result.records[0].tags == ("B-ORG", "O")
    assert result.provenance["iob2_repaired"] == 1
    assert result.qa["final"]["overall"]["f1"] == 1.0


def test_unknown_llm_tag_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"tokens": ["a"], "llm": ["O"]}\n{"tokens": ["b"], "llm": ["PERSON"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.jsonl:2: unknown LLM tag 'PERSON'"):
        import_labels(path, ImportSpec())


def test_length_mismatch_between_tokens_and_tags_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"tokens": ["a", "b"], "llm": ["O"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match="2 tokens but 1 LLM tags"):
        import_labels(path, ImportSpec())
