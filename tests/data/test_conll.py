"""CoNLL reading and writing, and the errors bad files give."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.data import Record, read_conll, write_conll
from offline_ner.errors import DataError, ExitCode


def write(tmp_path: Path, text: str | bytes, name: str = "f.conll") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_four_column_file_with_docstart_reads_tokens_and_last_column_tags(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n")
    records = read_conll(path)
    assert [r.tokens for r in records] == [("EU", "rejects"), ("Peter",)]
    assert [r.tags for r in records] == [("B-ORG", "O"), ("B-PER",)]
    assert records[0].id == "f:0" and records[1].id == "f:1"


def test_two_column_file_reads(tmp_path: Path) -> None:
    assert read_conll(write(tmp_path, "Paris B-LOC\n.\tO\n"))[0].tags == ("B-LOC", "O")


def test_inconsistent_column_count_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "EU NNP B-NP B-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"f\.conll:2: expected 4 columns") as info:
        read_conll(path)
    assert info.value.exit_code == ExitCode.DATA and info.value.line == 2


def test_unknown_tag_is_rejected_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r":3: unknown tag 'PERSON'"):
        read_conll(write(tmp_path, "a O\n\nJohn PERSON\n"))


def test_tag_outside_the_given_label_set_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown tag 'B-GPE'"):
        read_conll(write(tmp_path, "Paris B-GPE\n"), labels=["O", "B-LOC", "I-LOC"])


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path, "\n\n"))


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r":2: not valid UTF-8"):
        read_conll(write(tmp_path, b"a O\nM\xfcnchen B-LOC\n"))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_conll(tmp_path / "nope.conll")


tag = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-MISC"])
token = st.text(alphabet=st.characters(blacklist_categories=["Z", "C"]), min_size=1, max_size=8).filter(
    lambda t: t != "-DOCSTART-"
)
sentence = st.lists(st.tuples(token, tag), min_size=1, max_size=6)


@given(st.lists(sentence, min_size=1, max_size=5))
def test_write_then_read_gives_back_the_same_tokens_and_tags(tmp_path_factory, sentences) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("rt") / "x.conll"
    records = [Record(str(i), tuple(t for t, _ in s), tuple(g for _, g in s)) for i, s in enumerate(sentences)]
    write_conll(records, path)
    back = read_conll(path)
    assert [(r.tokens, r.tags) for r in back] == [(r.tokens, r.tags) for r in records]
