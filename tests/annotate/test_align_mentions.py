"""Aligning LLM mentions to tokens: always valid IOB2 of the right length; every disagreement counted."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.annotate.align import COUNT_KEYS, align_mentions
from offline_ner.annotate.parse import Mention
from offline_ner.data import CONLL_TYPES, iob2_violations, is_valid_tag

TOKENS = ("EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "says", "German", "official")


def align(*mentions: Mention):
    return align_mentions(TOKENS, mentions, CONLL_TYPES)


def test_indices_and_text_that_agree_are_exact() -> None:
    result = align(Mention(0, 0, "EU", "ORG"), Mention(6, 6, "British", "MISC"))
    assert result.tags[0] == "B-ORG" and result.tags[6] == "B-MISC"
    assert result.counts["exact"] == 2 and result.problems == 0


def test_wrong_indices_are_recovered_from_the_text() -> None:
    result = align(Mention(3, 3, "British", "MISC"))
    assert result.tags[6] == "B-MISC"
    assert result.counts["recovered"] == 1


def test_text_occurring_twice_takes_the_occurrence_nearest_the_index_and_counts_ambiguity() -> None:
    result = align(Mention(8, 8, "German", "MISC"))
    assert result.tags[9] == "B-MISC" and result.tags[2] == "O"
    assert result.counts["ambiguous"] == 1


def test_multi_token_text_is_matched_across_tokens() -> None:
    result = align(Mention(None, None, "German official", "PER"))
    assert result.tags[9:11] == ("B-PER", "I-PER")


def test_entity_not_in_the_text_is_counted_as_not_found() -> None:
    result = align(Mention(None, None, "Paris", "LOC"), Mention(40, 41, None, "LOC"))
    assert set(result.tags) == {"O"}
    assert result.counts["not_found"] == 2


def test_text_that_disagrees_with_valid_indices_keeps_the_indices_and_is_counted() -> None:
    result = align(Mention(1, 1, "Brussels", "LOC"))
    assert result.tags[1] == "B-LOC"
    assert result.counts["text_mismatch"] == 1


def test_overlapping_spans_keep_the_longer_one_deterministically() -> None:
    mentions = (Mention(2, 2, "German", "MISC"), Mention(2, 3, "German call", "ORG"))
    result = align(*mentions)
    assert result.tags[2:4] == ("B-ORG", "I-ORG")
    assert result.counts["overlap_dropped"] == 1
    assert align(*reversed(mentions)).tags == result.tags


def test_same_span_with_two_types_keeps_the_first_mentioned() -> None:
    result = align(Mention(0, 0, "EU", "ORG"), Mention(0, 0, "EU", "LOC"))
    assert result.tags[0] == "B-ORG"
    assert result.counts["overlap_dropped"] == 1


def test_repeated_mention_is_a_duplicate_not_an_overlap() -> None:
    result = align(Mention(0, 0, "EU", "ORG"), Mention(0, 0, "EU", "ORG"))
    assert result.counts["duplicate"] == 1 and result.counts["overlap_dropped"] == 0


def test_type_aliases_are_normalised_and_unknown_types_counted() -> None:
    result = align(Mention(0, 0, "EU", "organization"), Mention(6, 6, "British", "NORP"))
    assert result.tags[0] == "B-ORG" and result.tags[6] == "O"
    assert result.counts["unknown_type"] == 1


mentions_strategy = st.builds(
    Mention,
    first=st.none() | st.integers(-3, 15),
    last=st.none() | st.integers(-3, 15),
    text=st.none() | st.sampled_from(["EU", "German", "call to", "x", "", "British lamb says"]) | st.text(max_size=6),
    type=st.sampled_from(["PER", "LOC", "ORG", "MISC", "person", "B-LOC", "FOO", ""]),
)


@given(
    st.lists(
        st.sampled_from(["EU", "German", "call", "to", "x", "lamb", "British", "says", "."]), min_size=1, max_size=12
    ),
    st.lists(mentions_strategy, max_size=8),
)
@example(["x"], [Mention(0, 0, "", "PER")])
@example(["x", "x"], [Mention(None, None, "x x", "PER"), Mention(1, 1, None, "LOC")])
def test_alignment_is_always_valid_iob2_of_the_same_length(tokens: list[str], mentions: list[Mention]) -> None:
    result = align_mentions(tokens, mentions, CONLL_TYPES)
    assert len(result.tags) == len(tokens)
    assert all(is_valid_tag(tag) and (tag == "O" or tag[2:] in CONLL_TYPES) for tag in result.tags)
    assert iob2_violations(result.tags) == []
    assert set(result.counts) == set(COUNT_KEYS)
    placed = (
        result.counts["exact"]
        + result.counts["index_only"]
        + result.counts["recovered"]
        + result.counts["casefold"]
        + result.counts["punctuation"]
        + result.counts["text_mismatch"]
    )
    dropped = result.counts["not_found"] + result.counts["unknown_type"]
    assert placed + dropped == len(mentions)
    assert (
        len([t for t in result.tags if t.startswith("B-")])
        == placed - result.counts["duplicate"] - result.counts["overlap_dropped"]
    )


def test_text_differing_only_in_case_is_placed_and_counted_as_casefold() -> None:
    tokens = ("LONDON", "1996-08-30")
    result = align_mentions(tokens, [Mention(None, None, "London", "LOC")], CONLL_TYPES)
    assert result.tags == ("B-LOC", "O")
    assert result.counts["casefold"] == 1 and result.counts["recovered"] == 0 and result.counts["not_found"] == 0


def test_text_missing_a_trailing_full_stop_is_placed_and_counted_as_punctuation() -> None:
    tokens = ("the", "U.S.", "said")
    result = align_mentions(tokens, [Mention(5, 5, "U.S", "LOC"), Mention(None, None, "said,", "ORG")], CONLL_TYPES)
    assert result.tags == ("O", "B-LOC", "B-ORG")
    assert result.counts["punctuation"] == 2 and result.counts["not_found"] == 0


def test_exact_text_wins_over_a_case_insensitive_match() -> None:
    tokens = ("Bush", "met", "BUSH")
    result = align_mentions(tokens, [Mention(None, None, "BUSH", "PER")], CONLL_TYPES)
    assert result.tags == ("O", "O", "B-PER") and result.counts["recovered"] == 1
