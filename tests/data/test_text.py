"""Plain text: lenient decoding, sentence splitting, tokenisation with exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.data import Document, iter_text_folder, read_records, sentence_records, split_sentences, tokenize
from offline_ner.errors import DataError


def test_latin1_byte_in_a_text_file_is_decoded_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"Caf\xe9 owners in M\xfcnchen met.\n")
    (doc,) = iter_text_folder(tmp_path)
    assert doc.text.startswith("Café owners in München")


def test_tokens_keep_acronyms_numbers_and_hyphenated_words_whole() -> None:
    words = [t for t, _, _ in tokenize("The U.S. paid $1,000.50 to Smith-Jones (AT&T), didn't it?")]
    assert words == [
        "The", "U.S.", "paid", "$", "1,000.50", "to", "Smith-Jones", "(", "AT&T", ")", ",", "didn't", "it", "?",
    ]


def test_sentences_split_at_final_punctuation_but_not_after_titles_or_initials() -> None:
    text = "Mr. Brown met J. Smith in Leeds. They talked!\nA new line starts here"
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Mr. Brown met J. Smith in Leeds.", "They talked!", "A new line starts here"]


def test_sentence_records_map_back_to_the_document() -> None:
    doc = Document("d1", "Title\n\nAlice Moor left Paris. She went home.")
    records = sentence_records(doc)
    assert [r.tokens for r in records] == [
        ("Title",), ("Alice", "Moor", "left", "Paris", "."), ("She", "went", "home", "."),
    ]
    for record in records:
        base = record.provenance["char_start"]
        for token, (start, end) in zip(record.tokens, record.offsets or ()):
            assert record.text is not None and record.text[start:end] == token
            assert doc.text[base + start : base + end] == token


def test_long_sentence_is_chunked_without_losing_tokens() -> None:
    doc = Document("d", " ".join(f"w{i}" for i in range(300)))
    records = sentence_records(doc, max_tokens=128)
    assert [len(r.tokens) for r in records] == [128, 128, 44]
    assert sum((r.tokens for r in records), ()) == tuple(f"w{i}" for i in range(300))


def test_folder_without_text_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no files matching"):
        list(iter_text_folder(tmp_path))


def test_folder_reads_as_unlabelled_records(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("Oslo is cold. Rome is warm.", encoding="utf-8")
    records = read_records(tmp_path)
    assert [r.id for r in records] == ["x:0", "x:1"] and all(r.tags is None for r in records)


@given(st.text(max_size=200))
def test_every_token_offset_points_at_the_token(text: str) -> None:
    for token, start, end in tokenize(text):
        assert text[start:end] == token and token.strip() == token
    for start, end in split_sentences(text):
        assert text[start:end].strip() == text[start:end] != ""
