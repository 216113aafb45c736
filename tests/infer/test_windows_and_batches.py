"""Pure planning: windows over long sentences and length-sorted batches under a token budget."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.data.windows import plan_windows
from offline_ner.infer.batching import padding_efficiency, plan_batches

word_tokens = st.lists(st.integers(min_value=0, max_value=8), max_size=300)


@given(word_tokens, st.integers(min_value=8, max_value=64), st.data())
@example([8, 8, 8], 8, None)
@example([], 8, None)
def test_windows_fit_the_budget_and_every_word_is_owned_exactly_once(counts, max_tokens, data) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=max_tokens - 1)) if data is not None else 3
    windows = plan_windows(counts, max_tokens, overlap)
    owned = []
    for window in windows:
        assert sum(counts[window.start : window.end]) <= max_tokens
        assert window.start <= window.own_start <= window.own_end <= window.end
        owned.extend(range(window.own_start, window.own_end))
    assert owned == list(range(len(counts)))
    starts = [w.start for w in windows]
    assert starts == sorted(set(starts)), "windows must move forward"


def test_short_sentence_is_one_window() -> None:
    assert [tuple(w) for w in plan_windows([2, 3, 1], max_tokens=8, overlap_tokens=4)] == [(0, 3, 0, 3)]


def test_consecutive_windows_share_context_and_split_the_overlap_in_the_middle() -> None:
    windows = plan_windows([1] * 20, max_tokens=8, overlap_tokens=4)
    first, second = windows[0], windows[1]
    assert (first.start, first.end) == (0, 8) and second.start == 4
    assert first.own_end == second.own_start == 6  # midpoint of the shared words 4..7


@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=500), st.integers(16, 4096))
def test_batches_cover_every_sequence_once_within_the_budget(lengths, budget) -> None:
    lengths = np.array(lengths)
    batches = plan_batches(lengths, budget, max_batch_size=64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(lengths.size))
    for batch in batches:
        assert batch.size <= 64
        assert batch.size == 1 or batch.size * lengths[batch].max() <= budget


def test_sorted_batches_waste_little_padding_on_sentence_like_lengths() -> None:
    # news sentences: 3 to 120 subword tokens, most of them 15-40 (like CoNLL test)
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(mean=3.0, sigma=0.5, size=3500).astype(int) + 2, 3, 120)
    batches = plan_batches(lengths, 4096)
    assert padding_efficiency(lengths, batches) >= 0.9
    shuffled_unsorted = [np.arange(i, min(i + 128, lengths.size)) for i in range(0, lengths.size, 128)]
    assert padding_efficiency(lengths, shuffled_unsorted) < 0.7
