"""Input readers: JSONL documents (bad lines named by file:line), text lines, folders; format detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.errors import DataError
from offline_ner.infer.inputs import detect_format, iter_documents, parse_document

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(json_values | st.fixed_dictionaries({"text": json_values}, optional={"id": json_values}))
def test_document_parser_raises_only_data_errors(obj: object) -> None:
    try:
        doc = parse_document(obj, default_id="f:1", path="f.jsonl", line=1)
    except DataError as err:
        assert str(err).startswith("f.jsonl:1: ")
        return
    assert isinstance(doc.text, str) and isinstance(doc.id, str)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "d2"}', "missing field 'text'"),
        ('{"id": "d2", "text": 5}', "'text' must be a string"),
        ('{"id": [1], "text": "x"}', "'id' must be a string or an integer"),
    ],
)
def test_bad_jsonl_line_is_reported_with_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": "d1", "text": "fine"}) + "\n\n" + line + "\n", encoding="utf-8")
    docs = iter_documents(path)
    assert next(docs).id == "d1"
    with pytest.raises(DataError, match=message) as caught:
        next(docs)
    assert str(caught.value).startswith(f"{path}:3: ")


def test_invalid_utf8_in_jsonl_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=":1: not valid UTF-8"):
        list(iter_documents(path))


def test_text_lines_keep_blank_lines_and_decode_leniently(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes("Zürich\r\n\r\n".encode() + b"caf\xe9 in Paris\n")
    docs = list(iter_documents(path))
    assert [(d.id, d.text) for d in docs] == [("news:1", "Zürich"), ("news:2", ""), ("news:3", "café in Paris")]


def test_folder_gives_one_document_per_text_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("First one.\nSecond line.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Other.", encoding="utf-8")
    assert [d.id for d in iter_documents(tmp_path)] == ["a", "b"]


def test_formats_are_detected_from_the_content_not_the_path(tmp_path: Path) -> None:
    contents = {"x.jsonl": "Paris.\n", "x.conll": '{"text": "Paris."}\n', "x.txt": "EU NNP B-ORG\nrejects VBZ O\n"}
    for name, content in contents.items():
        (tmp_path / name).write_text(content)
    assert [detect_format(tmp_path / n) for n in contents] == ["text", "jsonl", "conll"]
    assert detect_format(tmp_path) == "text"


def test_missing_input_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="input not found"):
        list(iter_documents(tmp_path / "absent.txt"))
