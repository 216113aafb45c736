"""Records -> model inputs: first-subword labels, windows that lose no word, words with no subword kept."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_ner.data import Record, label_list
from offline_ner.train._model import load_tokenizer
from offline_ner.train.features import IGNORE_INDEX, NO_LOSS_KEY, build_features, join_windows
from tests.conftest import minilm_dir

LABEL2ID = {label: i for i, label in enumerate(label_list())}


@functools.lru_cache(maxsize=1)
def minilm_tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer(minilm_dir())


@pytest.fixture
def tokenizer():  # type: ignore[no-untyped-def]
    return minilm_tokenizer()


def test_only_the_first_subword_of_a_word_carries_its_label(tokenizer) -> None:  # type: ignore[no-untyped-def]
    record = Record(id="r", tokens=("Schwarzenegger", "visited", "Ouagadougou"), tags=("B-PER", "O", "B-LOC"))
    (feature,), stats = build_features([record], tokenizer, LABEL2ID, max_length=64)
    pieces = [len(tokenizer.tokenize(word)) for word in record.tokens]
    assert pieces[0] > 1 and pieces[2] > 1  # the words really are split
    labelled = [i for i, label in enumerate(feature.labels) if label != IGNORE_INDEX]
    assert labelled == list(feature.word_positions) == [1, 1 + pieces[0], 1 + pieces[0] + pieces[1]]
    assert [feature.labels[i] for i in labelled] == [LABEL2ID[t] for t in record.tags or ()]
    assert feature.input_ids[0] == tokenizer.cls_token_id and feature.input_ids[-1] == tokenizer.sep_token_id
    assert stats.windowed_records == 0 and stats.dropped_words == 0


def test_long_sentence_is_windowed_and_loses_no_word(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokens = tuple(f"Word{i}" if i % 3 else "Paris" for i in range(200))
    tags = tuple("O" if i % 3 else "B-LOC" for i in range(200))
    record = Record(id="long", tokens=tokens, tags=tags)
    features, stats = build_features([record], tokenizer, LABEL2ID, max_length=32)
    assert len(features) > 1 and stats.windowed_records == 1
    assert all(len(f.input_ids) <= 32 for f in features)
    # every word labelled exactly once, in order, across the windows
    labels = [f.labels[pos] for f in features for pos in f.word_positions]
    assert labels == [LABEL2ID[t] for t in tags]
    assert stats.words == 200 and stats.dropped_words == 0


def test_word_longer_than_a_window_keeps_its_first_subwords(tokenizer) -> None:  # type: ignore[no-untyped-def]
    record = Record(id="w", tokens=("a", "x-" * 20, "b"), tags=("O", "B-MISC", "O"))
    features, stats = build_features([record], tokenizer, LABEL2ID, max_length=16)
    assert stats.truncated_words == 1
    assert [f.labels[p] for f in features for p in f.word_positions] == [LABEL2ID[t] for t in record.tags or ()]
    assert all(len(f.input_ids) <= 16 for f in features)


def test_word_with_no_subword_becomes_the_unknown_token(tokenizer) -> None:  # type: ignore[no-untyped-def]
    record = Record(id="c", tokens=("Bonn", "\x00", "x"), tags=("B-LOC", "O", "O"))
    (feature,), stats = build_features([record], tokenizer, LABEL2ID, max_length=16)
    assert stats.unk_words == 1
    assert len(feature.word_positions) == 3
    assert feature.input_ids[feature.word_positions[1]] == tokenizer.unk_token_id


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(st.lists(st.text("abcdéXYZ0-", min_size=1, max_size=30), min_size=1, max_size=60),
                   min_size=1, max_size=4),
    max_length=st.integers(8, 40),
    overlap_share=st.sampled_from([0.0, 0.25, 0.6]),
)
def test_windows_then_join_give_back_every_word_in_order(words: list[list[str]], max_length: int,
                                                         overlap_share: float) -> None:
    # overlap 0: training's back-to-back windows; above 0: scoring's overlapping ones, each word owned by one
    tokenizer = minilm_tokenizer()
    records = [Record(id=str(i), tokens=tuple(w), tags=("O",) * len(w)) for i, w in enumerate(words)]
    features, stats = build_features(records, tokenizer, None, max_length, int(overlap_share * (max_length - 2)))
    assert all(len(f.input_ids) <= max_length for f in features)
    # predict each word's own index: joining must return 0..n-1 for each record
    predicted = []
    for n, f in enumerate(features):
        start = sum(len(g.word_positions) for g in features[:n] if g.record_index == f.record_index)
        row = [0] * len(f.input_ids)
        for k, pos in enumerate(f.word_positions):
            row[pos] = start + k
        predicted.append(row)
    assert join_windows(features, predicted, len(records)) == [list(range(len(w))) for w in words]
    assert stats.dropped_words == 0 and stats.words == sum(map(len, words))


def test_tag_outside_the_label_set_is_a_caller_bug(tokenizer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="B-EVENT"):
        build_features([Record(id="e", tokens=("x",), tags=("B-EVENT",))], tokenizer, LABEL2ID, max_length=16)


def test_tokenizer_folder_is_read_from_disk_only(no_network: None, tmp_path: Path) -> None:
    assert load_tokenizer(minilm_dir()).is_fast


def test_words_listed_as_no_loss_keep_their_tag_but_get_no_label(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokens = tuple(f"word{i}" for i in range(12))
    tags = ("B-PER", "I-PER", "O", "B-ORG", *("O",) * 8)
    record = Record(id="r", tokens=tokens, tags=tags, provenance={NO_LOSS_KEY: [1, 3, 10]})
    features, stats = build_features([record], tokenizer, LABEL2ID, max_length=12)
    assert stats.windowed_records == 1  # the indices are the record's, not a window's
    by_word = {f.word_start + k: f.labels[pos] for f in features for k, pos in enumerate(f.word_positions)}
    assert [w for w, label in sorted(by_word.items()) if label == IGNORE_INDEX] == [1, 3, 10]
    assert by_word[0] == LABEL2ID["B-PER"] and by_word[11] == LABEL2ID["O"]
