"""JSONL records: round trip, and one clear error per kind of bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.data import Record, read_jsonl, read_records, write_jsonl
from offline_ner.errors import DataError


def test_full_record_round_trips_with_offsets_and_provenance(tmp_path: Path) -> None:
    record = Record(
        id="bbc/1:0",
        tokens=("Ada", "visited", "Oslo"),
        tags=("B-PER", "O", "B-LOC"),
        text="Ada visited Oslo",
        offsets=((0, 3), (4, 11), (12, 16)),
        source="demo",
        provenance={"model": "gpt-4-0613", "parse_mode": "json_schema"},
    )
    path = tmp_path / "r.jsonl"
    write_jsonl([record], path)
    assert read_jsonl(path) == [record]
    assert read_records(path) == [record]


def test_identical_records_give_identical_bytes(tmp_path: Path) -> None:
    records = [Record("a", ("x",), ("O",), provenance={"b": 1, "a": 2})]
    write_jsonl(records, tmp_path / "1.jsonl")
    write_jsonl(records, tmp_path / "2.jsonl")
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "2.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "a"}', "missing field"),
        ('{"id": "a", "tokens": ["x"], "tags": ["O", "O"]}', "1 tokens but 2 tags"),
        ('{"id": "a", "tokens": ["x"], "tags": ["PERSON"]}', "unknown tag 'PERSON'"),
        ('{"id": "a", "tokens": ["x"], "offsets": [[0]]}', "offsets"),
        ('{"id": "a", "tokens": "x"}', "must be a list of strings"),
    ],
)
def test_bad_line_names_file_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "tokens": ["fine"]}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_jsonl(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_existing_output_survives_a_failed_write(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_jsonl([Record("a", ("x",))], path)
    before = path.read_bytes()

    def broken() -> object:
        yield Record("b", ("y",))
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_jsonl(broken(), path)  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


text_st = st.text(min_size=1, max_size=10)


@given(st.lists(st.tuples(text_st, st.lists(text_st, min_size=1, max_size=4)), min_size=1, max_size=4))
@example([("0", ["\x85"])])  # NEL is a line break to str.splitlines(): must be escaped on write
def test_write_then_read_gives_back_the_same_records(tmp_path_factory, items) -> None:  # type: ignore[no-untyped-def]
    records = [Record(i, tuple(t), provenance={"n": len(t)}) for i, t in items]
    path = tmp_path_factory.mktemp("rt") / "x.jsonl"
    write_jsonl(records, path)
    assert read_jsonl(path) == records
    # no stray line breaks inside a record, whichever line-splitting rule a reader uses
    assert all(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())



json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.sampled_from(["O", "B-PER", "I-PER"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
record_fields = st.dictionaries(
    st.sampled_from(["id", "tokens", "tags", "text", "offsets", "source", "provenance"]), json_value, max_size=7
)


@given(record_fields)
def test_any_json_object_is_a_valid_record_or_one_data_error(obj: dict) -> None:  # type: ignore[type-arg]
    from offline_ner.data import parse_record

    try:
        record = parse_record(obj, path="x.jsonl", line=1)
    except DataError as err:
        assert str(err).startswith("x.jsonl:1: ")
        return
    assert record.tokens and (record.tags is None or len(record.tags) == len(record.tokens))
