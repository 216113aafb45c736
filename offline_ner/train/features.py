"""Records -> model inputs: subword tokenization, first-subword labels, and windows that lose no word.

Each word's first subword carries its label id and every other position gets -100 (ignored by the loss), as in
HF's run_ner; so do the words a record lists under ``provenance["no_loss_words"]`` (partial annotation). Unlike ``truncation=True``, a sentence longer than ``max_length`` subwords is cut into windows at word
boundaries (``offline_ner.data.windows``, the engine's planner): consecutive ones for training, overlapping ones
for scoring (``overlap_tokens``), each word labelled and predicted by exactly one window; a single word longer than
a whole window keeps its first subwords (it is still labelled and predicted; counted as ``truncated_words``). A word
the tokenizer maps to no subword (e.g. a lone control character) becomes the unknown token, so it is not lost
either. :func:`join_windows` puts per-window word predictions back together in record order.

Needs a fast tokenizer (``word_ids``); imports no torch.

Example::

    features, stats = build_features(records, tokenizer, label2id, max_length=128)
    scoring, _ = build_features(records, tokenizer, None, WINDOW_TOKENS, OVERLAP_TOKENS)   # as the engine cuts
    stats.windowed_records, stats.dropped_words    # -> (3, 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offline_ner.data import Record
from offline_ner.data.windows import Window, plan_windows

IGNORE_INDEX = -100  # torch CrossEntropyLoss's ignore_index
# provenance key: token indices of a record whose labels get no loss (partial annotation, e.g. words where an LLM
# and a teacher model disagree); the record keeps its tags, so the label set and IOB2 rules are unchanged
NO_LOSS_KEY = "no_loss_words"


@dataclass(frozen=True)
class Feature:
    """One model input: a window of one record's words, of which it labels and predicts those it owns."""

    record_index: int
    word_start: int  # index in the record of the first word the window owns
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # label id at each owned word's first subword, -100 elsewhere (all -100 if unlabelled)
    word_positions: tuple[int, ...]  # the position of each owned word's first subword, in word order

    def as_item(self, is_distilled: bool = False) -> dict[str, Any]:
        """The dict the data collator pads (``is_distilled`` lets the trainer count the realised share)."""
        return {
            "input_ids": list(self.input_ids),
            "attention_mask": [1] * len(self.input_ids),
            "labels": list(self.labels),
            "is_distilled": int(is_distilled),
        }


@dataclass(frozen=True)
class FeatureStats:
    """What featurization did to the words: nothing is dropped silently."""

    records: int = 0
    features: int = 0
    words: int = 0
    windowed_records: int = 0  # records longer than one window, split into several
    truncated_words: int = 0  # single words longer than a window: only their first subwords kept
    unk_words: int = 0  # words with no subword, fed as the unknown token
    dropped_words: int = 0  # always 0: kept in the metrics so a reader can check it

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def build_features(
    records: Sequence[Record],
    tokenizer: Any,
    label2id: Mapping[str, int] | None,
    max_length: int,
    overlap_tokens: int = 0,
) -> tuple[list[Feature], FeatureStats]:
    """Tokenize ``records`` into windows of at most ``max_length`` subwords (special tokens included), consecutive
    ones sharing about ``overlap_tokens`` subwords of context (0: training's back-to-back windows).

    Args:
        records: the records; their tags are used only when ``label2id`` is given.
        tokenizer: a Hugging Face *fast* tokenizer.
        label2id: tag -> label id; None builds unlabelled features (for prediction).
        max_length: the window size in subwords, special tokens included.

    Returns:
        The features in record order and the counts of what windowing did.

    Raises:
        ValueError: a tag missing from ``label2id`` (the caller builds the label set from the data), or a
            tokenizer whose special tokens leave no room in ``max_length``.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if budget <= 0:
        raise ValueError(f"max_length {max_length} leaves no room for words after the special tokens")
    encodings = tokenizer([list(r.tokens) for r in records], is_split_into_words=True, add_special_tokens=False)
    features: list[Feature] = []
    stats = {"records": len(records), "windowed_records": 0, "truncated_words": 0, "unk_words": 0, "words": 0}
    for index, record in enumerate(records):
        word_ids = encodings.word_ids(index)
        subwords: list[list[int]] = [[] for _ in record.tokens]
        for token_id, word in zip(encodings["input_ids"][index], word_ids):
            if word is not None:
                subwords[word].append(token_id)
        for pieces in subwords:
            if not pieces:
                pieces.append(tokenizer.unk_token_id)
                stats["unk_words"] += 1
        stats["words"] += len(subwords)
        stats["truncated_words"] += sum(len(p) > budget for p in subwords)
        windows = plan_windows([min(len(p), budget) for p in subwords], budget, overlap_tokens)
        stats["windowed_records"] += len(windows) > 1
        for window in windows:
            features.append(_window_feature(index, record, subwords, window, budget, tokenizer, label2id))
    return features, FeatureStats(features=len(features), **stats)


def _window_feature(
    index: int,
    record: Record,
    subwords: Sequence[Sequence[int]],
    window: Window,
    budget: int,
    tokenizer: Any,
    label2id: Mapping[str, int] | None,
) -> Feature:
    content: list[int] = []
    first: list[int] = []  # content offset of each owned word's first subword
    for word in range(window.start, window.end):
        if window.own_start <= word < window.own_end:
            first.append(len(content))
        content.extend(subwords[word][:budget])
    start, end = window.own_start, window.own_end
    input_ids = tokenizer.build_inputs_with_special_tokens(content)
    # where the content starts after the leading special tokens ([CLS] for BERT): find a sentinel id
    prefix = tokenizer.build_inputs_with_special_tokens([-1]).index(-1)
    positions = tuple(prefix + offset for offset in first)
    labels = [IGNORE_INDEX] * len(input_ids)
    if label2id is not None and record.tags is not None:
        no_loss = set(record.provenance.get(NO_LOSS_KEY, ()))
        for word, (pos, tag) in enumerate(zip(positions, record.tags[start:end]), start=start):
            if tag not in label2id:
                raise ValueError(f"record {record.id}: tag {tag!r} is not in the label set {sorted(label2id)}")
            if word not in no_loss:
                labels[pos] = label2id[tag]
    return Feature(index, start, tuple(input_ids), tuple(labels), positions)


def join_windows(features: Sequence[Feature], predicted: Sequence[Sequence[int]], n_records: int) -> list[list[int]]:
    """Per record, the predicted label id of every word, from per-feature predictions over positions.

    Args:
        features: the features of ``n_records`` records, in any order (e.g. sorted by length for batching).
        predicted: per feature, the argmax label id at every position (padding beyond the feature is ignored).
        n_records: how many records the features came from.
    """
    by_word: list[dict[int, int]] = [{} for _ in range(n_records)]
    for feature, row in zip(features, predicted):
        for k, pos in enumerate(feature.word_positions):
            by_word[feature.record_index][feature.word_start + k] = int(row[pos])
    return [[words[i] for i in range(len(words))] for words in by_word]
