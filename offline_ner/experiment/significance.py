"""Is one arm really better than another? A paired bootstrap over test sentences, pooled over seeds. Pure (numpy).

Why: three seeds say little about a one-point F1 difference, and a sign test over three seeds cannot reach p < 0.05
at all. Both arms are scored on the same resampled test sentences (Koehn 2004; Berg-Kirkpatrick et al. 2012), so
the test set's difficulty cancels and only the arms' difference varies. With several seeds, every resample draws
one set of sentences and averages the seeds' F1 differences on it: the interval covers sentence sampling and the
seeds' spread at once.

Entity-level micro F1 is summed from per-sentence counts (true positives, predicted and gold entities), which is
what seqeval's default mode computes over the whole set, so a resample costs one matrix product, not a rescoring.

Example::

    a, b = sentence_counts(gold, predicted_a), sentence_counts(gold, predicted_b)
    result = paired_bootstrap([(a, b)])        # result.delta, result.low, result.high, result.p_not_better
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from offline_ner.data.iob2 import spans_from_tags

RESAMPLES = 10_000  # enough for a stable 95% interval and a p-value to about 0.005
CHUNK = 500  # resamples per matrix product: bounds memory at CHUNK x sentences counts


def sentence_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence: exact-match true positives, predicted entities and gold entities, shape ``(sentences, 3)``."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold ones")
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    for row, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        gold_spans, predicted_spans = set(spans_from_tags(gold_tags)), set(spans_from_tags(predicted_tags))
        counts[row] = (len(gold_spans & predicted_spans), len(predicted_spans), len(gold_spans))
    return counts


def f1_from_counts(totals: np.ndarray) -> np.ndarray:
    """Micro F1 from summed counts (last axis: true positives, predicted, gold); 0 where nothing was found."""
    tp, predicted, gold = totals[..., 0], totals[..., 1], totals[..., 2]
    denominator = predicted + gold
    return np.divide(2.0 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0)


@dataclass(frozen=True)
class PairedDelta:
    """F1(a) - F1(b), mean over seeds, with its bootstrap 95% interval and the share of resamples where a <= b."""

    delta: float
    low: float
    high: float
    p_not_better: float  # one-sided: how often a resample shows no gain for a
    per_seed: tuple[float, ...]


def paired_bootstrap(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], resamples: int = RESAMPLES, seed: int = 0
) -> PairedDelta:
    """Bootstrap F1(a) - F1(b) over sentences; ``pairs`` holds, per seed, both arms' :func:`sentence_counts` on the
    same test sentences (the same sentences for every seed: one resample draws them once for all seeds)."""
    if not pairs:
        raise ValueError("no seeds to compare")
    n = len(pairs[0][0])
    if any(len(a) != n or len(b) != n for a, b in pairs):
        raise ValueError("every seed's counts must cover the same test sentences")
    per_seed = tuple(float(f1_from_counts(a.sum(0)) - f1_from_counts(b.sum(0))) for a, b in pairs)
    rng = np.random.default_rng(seed)
    deltas = np.empty(resamples)
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size)  # how often each sentence is drawn
        seed_deltas = [f1_from_counts(weights @ a) - f1_from_counts(weights @ b) for a, b in pairs]
        deltas[start : start + size] = np.mean(seed_deltas, axis=0)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return PairedDelta(float(np.mean(per_seed)), float(low), float(high), float(np.mean(deltas <= 0)), per_seed)


# -- every arm against the baseline, per gold size ----------------------------------------------------------------

BASELINE_ARM = "gold-only"  # what every arm is compared against (both shipped experiment configs name it so)
UPPER_BOUND_ARM = "upper-bound-gold-labels"  # the same distilled sentences with gold labels: perfect annotation
COMPARISON_COLUMNS = ["arm", "gold", "seeds", "Δ test F1 vs gold-only", "95% interval", "p(Δ ≤ 0)", "Δ per seed",
                      "share of the perfect-label gain"]


def comparison_table(rows: Sequence[Mapping[str, Any]], counts: Mapping[str, np.ndarray],
                     resamples: int = RESAMPLES) -> str:
    """A Markdown table: each arm against :data:`BASELINE_ARM` at each gold size, over the seeds both ran, with
    :func:`paired_bootstrap`; ``counts`` maps a row's ``cell_id`` to its :func:`sentence_counts` (rows without
    counts are left out). The last column is (F1(arm) - F1(baseline)) / (F1(upper bound) - F1(baseline)), F1 as
    means over the seeds all three ran. "" when no arm can be compared."""
    by_key = {(r["label"], str(r["gold_size"]), r["seed"]): r for r in rows if r["cell_id"] in counts}
    lines = []
    for label, size in dict.fromkeys((label, size) for label, size, _ in by_key):
        if label == BASELINE_ARM:
            continue
        seeds = sorted(s for lab, gs, s in by_key if lab == label and gs == size and (BASELINE_ARM, size, s) in by_key)
        if not seeds:
            continue
        pairs = [(counts[by_key[label, size, s]["cell_id"]], counts[by_key[BASELINE_ARM, size, s]["cell_id"]])
                 for s in seeds]
        result = paired_bootstrap(pairs, resamples)
        lines.append("| " + " | ".join([
            label, size, ",".join(map(str, seeds)), f"{result.delta:+.4f}", f"[{result.low:+.4f}, {result.high:+.4f}]",
            f"{result.p_not_better:.3f}", " ".join(f"{d:+.4f}" for d in result.per_seed),
            _gain_share(by_key, label, size, seeds),
        ]) + " |")
    if not lines:
        return ""
    return "\n".join(["| " + " | ".join(COMPARISON_COLUMNS) + " |", "|" + "---|" * len(COMPARISON_COLUMNS), *lines]) + "\n"


def _gain_share(by_key: Mapping[tuple[str, str, int], Mapping[str, Any]], label: str, size: str,
                seeds: Sequence[int]) -> str:
    seeds = [s for s in seeds if (UPPER_BOUND_ARM, size, s) in by_key]
    if not seeds:
        return "–"

    def mean_f1(arm: str) -> float:
        return float(np.mean([by_key[arm, size, s]["test"]["f1"] for s in seeds]))

    gain = mean_f1(UPPER_BOUND_ARM) - mean_f1(BASELINE_ARM)
    return f"{(mean_f1(label) - mean_f1(BASELINE_ARM)) / gain:.0%}" if gain > 0 else "– (no gain to share)"
