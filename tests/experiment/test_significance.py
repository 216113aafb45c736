"""Paired bootstrap between arms: counts that reproduce seqeval's F1, intervals that see a real difference and
none where there is none, and the comparison table's share of the perfect-label gain."""

from __future__ import annotations

import random

import numpy as np
import pytest

from offline_ner.experiment.significance import comparison_table, f1_from_counts, paired_bootstrap, sentence_counts
from offline_ner.train.evaluation import score_tags

TAGS = ["O", "O", "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-MISC"]


def noisy(tags: list[list[str]], rate: float, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(TAGS) if rng.random() < rate else t for t in sentence] for sentence in tags]


@pytest.fixture
def gold() -> list[list[str]]:
    rng = random.Random(0)
    sentences = []
    for _ in range(300):
        sentence = []
        while len(sentence) < rng.randint(3, 12):
            kind = rng.choice(["O", "O", "PER", "ORG", "LOC", "MISC"])
            sentence += ["O"] if kind == "O" else [f"B-{kind}"] + [f"I-{kind}"] * rng.randint(0, 2)
        sentences.append(sentence)
    return sentences


def test_counts_summed_over_sentences_give_seqeval_default_mode_f1(gold: list[list[str]]) -> None:
    predicted = noisy(gold, 0.2, 1)  # dangling I- tags included: both start a new entity
    assert float(f1_from_counts(sentence_counts(gold, predicted).sum(0))) == pytest.approx(
        score_tags(gold, predicted).f1, abs=1e-12)


def test_a_clearly_better_arm_has_an_interval_above_zero(gold: list[list[str]]) -> None:
    good, bad = sentence_counts(gold, noisy(gold, 0.05, 1)), sentence_counts(gold, noisy(gold, 0.4, 2))
    result = paired_bootstrap([(good, bad)], resamples=2000)
    assert result.delta > 0.2 and result.low > 0 and result.p_not_better == 0.0


def test_identical_arms_differ_by_nothing(gold: list[list[str]]) -> None:
    counts = sentence_counts(gold, noisy(gold, 0.2, 1))
    result = paired_bootstrap([(counts, counts), (counts, counts)], resamples=500)
    assert result.delta == result.low == result.high == 0.0 and result.p_not_better == 1.0


def test_seeds_must_share_the_test_sentences(gold: list[list[str]]) -> None:
    counts = sentence_counts(gold, gold)
    with pytest.raises(ValueError, match="same test sentences"):
        paired_bootstrap([(counts, counts), (counts[:10], counts[:10])])


def test_comparison_table_reports_each_arm_against_gold_only_with_its_share_of_the_perfect_label_gain(
    gold: list[list[str]],
) -> None:
    predictions = {"gold-only": noisy(gold, 0.3, 1), "upper-bound-gold-labels": noisy(gold, 0.1, 2),
                   "mix": noisy(gold, 0.2, 3)}
    counts, rows = {}, []
    for label, tags in predictions.items():
        for seed in (1, 2):
            cell_id = f"{label}@{seed}"
            counts[cell_id] = sentence_counts(gold, tags)
            rows.append({"cell_id": cell_id, "label": label, "gold_size": 1000, "seed": seed,
                         "test": {"f1": score_tags(gold, tags).f1}})
    table = comparison_table(rows, counts, resamples=300)
    lines = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}
    assert set(lines) == {"upper-bound-gold-labels", "mix"}
    f1 = {label: score_tags(gold, tags).f1 for label, tags in predictions.items()}
    share = (f1["mix"] - f1["gold-only"]) / (f1["upper-bound-gold-labels"] - f1["gold-only"])
    assert lines["mix"].endswith(f"| {share:.0%} |") and "| 1,2 |" in lines["mix"]
    assert lines["upper-bound-gold-labels"].endswith("| 100% |")
    assert np.isclose(float(lines["mix"].split(" | ")[3]), f1["mix"] - f1["gold-only"], atol=1e-4)
