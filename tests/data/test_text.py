"""Plain text: lenient decoding, sentence splitting, tokenisation with exact offsets."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.data import (
    Document,
    iter_sentences,
    iter_text_folder,
    read_records,
    sentence_records,
    split_sentences,
    tokenize,
    tokenized_sentences,
)
from offline_ner.data import text as text_module
from offline_ner.data.text import MAX_PIECE_CHARS
from offline_ner.errors import DataError


def test_latin1_byte_in_a_text_file_is_decoded_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"Caf\xe9 owners in M\xfcnchen met.\n")
    (doc,) = iter_text_folder(tmp_path)
    assert doc.text.startswith("Café owners in München")


def words(text: str) -> list[list[str]]:
    return [[token for token, _, _ in sentence] for sentence in tokenized_sentences(text)]


def test_tokens_follow_conll_conventions() -> None:
    text = "Dr. Nner's 2-foot 6PR band of the 1980s won 3-1 on 1996-12-06 at No. 10 with AT&T, didn't it?"
    assert words(text) == [[
        "Dr.", "Nner", "'s", "2-foot", "6PR", "band", "of", "the", "1980s", "won", "3-1", "on", "1996-12-06",
        "at", "No.", "10", "with", "AT&T", ",", "did", "n't", "it", "?",
    ]]
    assert words("The U.S. paid $1,000.50 to Smith-Jones (on Saturday): fine.")[0][:8] == [
        "The", "U.S.", "paid", "$", "1,000.50", "to", "Smith-Jones", "(",
    ]
    assert words("(on Saturday): fine")[0][3:5] == [")", ":"]


def test_issue_example_is_two_sentences_not_four() -> None:
    text = "He signed in Dec. 1980 with Kerrang ! Records in London. James W. Hoyt ( b. 1950 ) was its founder."
    assert [sentence[-2:] for sentence in words(text)] == [["London", "."], ["founder", "."]]


def test_sentences_split_at_final_punctuation_but_not_after_titles_or_initials() -> None:
    text = "Mr. Brown met J. Smith in Leeds. They talked?\nA new line starts here"
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Mr. Brown met J. Smith in Leeds.", "They talked?", "A new line starts here"]
    assert len(split_sentences("Lt. Col. Ross met Sgt. Hill of Acme Inc. in Ft. Worth and said no. 10 more.")) == 1


def test_sentence_final_abbreviation_gives_its_period_to_the_sentence_as_in_conll() -> None:
    assert words("They sold it to Newmont Mining Corp. Shares rose at Acme Inc., Smith & Co. Ltd. and Dr. Hill.") == [
        ["They", "sold", "it", "to", "Newmont", "Mining", "Corp", "."],
        ["Shares", "rose", "at", "Acme", "Inc.", ",", "Smith", "&", "Co.", "Ltd.", "and", "Dr.", "Hill", "."],
    ]
    assert words("Shares rose at Newmont Mining Corp.\nAPPLETON, Wis.") == [
        ["Shares", "rose", "at", "Newmont", "Mining", "Corp", "."], ["APPLETON", ",", "Wis", "."],
    ]


def test_numbered_item_is_one_sentence_and_an_opening_quote_starts_the_next() -> None:
    assert words("1. Olga Melnik (Russia) 2:31.44") == [["1.", "Olga", "Melnik", "(", "Russia", ")", "2:31.44"]]
    assert words('he said. "I will go."') == [["he", "said", "."], ['"', "I", "will", "go", ".", '"']]


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


def assert_tokens_tile_the_text(text: str) -> None:
    """Tokens are exact, ordered, disjoint slices; everything between them is whitespace; sentences never cut."""
    covered = 0
    sentences = tokenized_sentences(text)
    for sentence in sentences:
        assert sentence, "empty sentence"
        for token, start, end in sentence:
            assert text[start:end] == token and token.strip() == token != ""
            assert start >= covered and text[covered:start].strip() == ""
            covered = end
    assert text[covered:].strip() == ""
    assert [token for sentence in sentences for token in sentence] == tokenize(text)
    assert split_sentences(text) == [(sentence[0][1], sentence[-1][2]) for sentence in sentences]


@given(st.text(max_size=300))
@example("a\u2028b. C\u00a0d.  \"E\n")
def test_no_character_is_dropped_or_duplicated_and_offsets_are_exact(text: str) -> None:
    assert_tokens_tile_the_text(text)


@given(st.lists(st.sampled_from(["Dr.", "W.", "No.", "1.", "Corp.", '"', "(", ")", "!", "?", ".", "'s", "a", "B", " ",
                                 "  ", "\n", "\t", "-", "é", "東京", "\u200b"]), max_size=60))
def test_offsets_stay_exact_on_text_built_from_the_rule_triggers(parts: list[str]) -> None:
    assert_tokens_tile_the_text("".join(parts))


def test_a_line_longer_than_one_tokenizer_piece_keeps_every_character() -> None:
    sentence = "Angela Merkel visited Paris on Tuesday and met Dr. Smith of the U.S. embassy "
    text = sentence * (2 * MAX_PIECE_CHARS // len(sentence) + 1) + "x" * (MAX_PIECE_CHARS + 7)
    assert_tokens_tile_the_text(text)
    last_two = [token for token, _, _ in tokenize(text)[-2:]]
    assert "".join(last_two) == "x" * (MAX_PIECE_CHARS + 7)  # a run with no space is cut, but nothing is lost


# -- a document as a stream ----------------------------------------------------------------------------------------


def reference_pieces(text: str, limit: int) -> Iterator[tuple[int, int]]:
    """How the text tokenizer cut a whole string into pieces before it read streams (issue 27): every line, a
    line longer than ``limit`` cut at its last space before the limit (anywhere when it has none)."""
    for line in re.finditer(r"[^\n]+", text):
        start, end = line.span()
        while end - start > limit:
            cut = text.rfind(" ", start + 1, start + limit)
            cut = cut if cut > start else start + limit
            yield start, cut
            start = cut
        yield start, end


def fragments_of(text: str, cuts: list[int]) -> list[str]:
    bounds = sorted({min(cut, len(text)) for cut in cuts})
    return [text[a:b] for a, b in itertools.pairwise([0, *bounds, len(text)])]


PIECE_TEXT = st.lists(st.sampled_from(["Dr.", "Paris", "met", "W.", ".", '"', "x" * 7, " ", "  ", "\n", "\n\n", "a"]),
                      max_size=80).map("".join)


@given(PIECE_TEXT, st.lists(st.integers(0, 400), max_size=8), st.integers(1, 40))
@example("Paris met Dr. Smith.\nNo.", [3, 4, 21], 6)
def test_a_streamed_text_is_cut_into_the_pieces_of_the_whole_string(text: str, cuts: list[int], limit: int) -> None:
    # whatever the fragments, the pieces (and so the sentences) are those of the text read whole, as before
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_module, "MAX_PIECE_CHARS", limit)
        expected = [(start, text[start:end]) for start, end in reference_pieces(text, limit)]
        assert list(text_module._pieces(fragments_of(text, cuts))) == expected
        assert list(iter_sentences(fragments_of(text, cuts))) == tokenized_sentences(text)


@given(st.lists(st.sampled_from(["Angela Merkel met Dr. Smith", ".", " ", "\n", "in Paris", "x" * 30, "? "]),
                max_size=60).map("".join), st.integers(1, 50), st.integers(5, 60))
def test_the_sentence_reader_holds_at_most_one_piece_and_one_fragment(text: str, size: int, limit: int) -> None:
    # the reader takes the next fragment only when what it holds cannot make a piece: at every sentence, what
    # it has read beyond the sentence's start is at most a piece and a fragment
    consumed = 0

    def fragments() -> Iterator[str]:
        nonlocal consumed
        for start in range(0, len(text), size):
            consumed = min(start + size, len(text))
            yield text[start : start + size]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_module, "MAX_PIECE_CHARS", limit)
        for sentence in iter_sentences(fragments()):
            assert consumed - sentence[0][1] <= limit + size
            assert all(text[start:end] == token for token, start, end in sentence)


def test_a_document_without_end_is_split_into_sentences_as_it_is_read() -> None:
    # an endless one-line document with no sentence end: sentences come out, cut at a space every piece, after
    # reading no more than a piece and a fragment beyond them
    fragment = "Angela Merkel visited Paris and met the mayor " * 20
    read = 0

    def endless() -> Iterator[str]:
        nonlocal read
        while True:
            read += len(fragment)
            yield fragment

    sentences = list(itertools.islice(iter_sentences(endless()), 3))
    assert [(sentence[0][1], sentence[-1][2]) for sentence in sentences[:2]] == [
        (0, sentences[1][0][1] - 1), (sentences[1][0][1], sentences[2][0][1] - 1)]
    assert all(sentence[-1][2] - sentence[0][1] <= MAX_PIECE_CHARS for sentence in sentences)
    assert read - sentences[-1][0][1] <= MAX_PIECE_CHARS + len(fragment)
