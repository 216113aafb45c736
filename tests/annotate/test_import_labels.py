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


# a label file in the shape of PromptNER's output: one free-text tag, one row without tokens, one bad JSON line
MESSY_ROWS = (
    '{"tokens": ["EU", "rejects"], "llm": ["B-ORG", "O"], "gold": ["B-ORG", "O"]}\n'
    '{"tokens": ["American", "Airlines", "flew"], "llm": ["B-presumably referring to American Airlines", "I-ORG", "O"],'
    ' "gold": ["B-ORG", "I-ORG", "O"]}\n'
    '{"tokens": [], "llm": [], "gold": []}\n'
    '{"tokens": ["Peter", "Blackburn"], "llm": ["B-PER", "I-PER"], "gold": ["B-PER", "I-PER"]\n'
    '{"tokens": ["Paris"], "llm": ["B-LOC"], "gold": ["B-LOC"]}\n'
)


def test_one_malformed_tag_still_aborts_an_import_by_default(tmp_path: Path) -> None:
    path = tmp_path / "promptner.jsonl"
    path.write_text(MESSY_ROWS, encoding="utf-8")
    with pytest.raises(DataError, match=r"promptner.jsonl:2: unknown LLM tag"):
        import_labels(path, ImportSpec(gold_field="gold"))


def test_on_error_skip_imports_the_good_rows_and_counts_the_bad_ones_as_misses(tmp_path: Path) -> None:
    path = tmp_path / "promptner.jsonl"
    path.write_text(MESSY_ROWS, encoding="utf-8")
    result = import_labels(path, ImportSpec(gold_field="gold", on_error="skip"))
    assert [r.id for r in result.records] == ["promptner:0", "promptner:4"]
    problems = result.provenance["on_error"]
    assert problems["mode"] == "skip" and problems["skipped_rows"] == 3 and problems["repaired_tags"] == 0
    assert [p["line"] for p in problems["problems"]] == [2, 3, 4]
    assert "unknown LLM tag" in problems["problems"][0]["reason"]
    coverage = result.qa["coverage"]
    assert coverage == {"gold_records": 3, "labelled": 2, "failed": 0, "skipped": 1, "fraction": 0.6667}
    assert result.qa["final"]["entity_agreement"]["ORG"]["missed"] == 1  # American Airlines, skipped


def test_on_error_repair_replaces_a_malformed_tag_with_o_and_counts_it(tmp_path: Path) -> None:
    path = tmp_path / "promptner.jsonl"
    path.write_text(MESSY_ROWS, encoding="utf-8")
    result = import_labels(path, ImportSpec(gold_field="gold", on_error="repair"))
    airlines = next(r for r in result.records if r.id == "promptner:1")
    assert airlines.tags == ("O", "B-ORG", "O")  # the dangling I-ORG is then repaired to B-ORG as always
    assert airlines.provenance["tags_replaced"] == 1
    problems = result.provenance["on_error"]
    assert problems["repaired_tags"] == 1 and problems["skipped_rows"] == 2


def test_on_error_skip_drops_a_conll_sentence_with_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "labels.conll"
    path.write_text("EU B-ORG B-ORG\nrejects O\n\nPeter B-PER B-PER\nBlackburn I-PER I-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.conll:2"):
        import_labels(path, ImportSpec(llm_column=2, gold_column=1))
    result = import_labels(path, ImportSpec(llm_column=2, gold_column=1, on_error="skip"))
    assert [r.tokens for r in result.records] == [("Peter", "Blackburn")]
    assert result.provenance["on_error"]["problems"][0]["line"] == 2


def test_on_error_skip_drops_an_undecodable_line_in_either_format_and_names_it(tmp_path: Path) -> None:
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_bytes(
        b'\xef\xbb\xbf{"tokens": ["EU"], "llm": ["B-ORG"]}\n{"tokens": ["\xff"], "llm": ["O"]}\n'
        b'{"tokens": ["Paris"], "llm": ["B-LOC"]}\n'
    )
    conll = tmp_path / "labels.conll"
    conll.write_bytes(b"\xef\xbb\xbfEU B-ORG\n\n\xff O\nrejects O\n\nParis B-LOC\n")
    for path in (jsonl, conll):
        with pytest.raises(DataError, match=f"{path.name}:[23]: not valid UTF-8"):
            import_labels(path, ImportSpec())
        result = import_labels(path, ImportSpec(on_error="skip"))
        assert [r.id for r in result.records] == ["labels:0", "labels:2"]  # ids count the skipped row
        assert result.records[0].tokens == ("EU",)  # the BOM is dropped, not part of the first token
        assert "not valid UTF-8" in result.provenance["on_error"]["problems"][0]["reason"]
