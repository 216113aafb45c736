"""The records a run trains on, checked and repaired, and what every phase shares: tokenizer, labels, features.

Refuses what the regimen cannot train on (a pool it needs is empty, a record has no tags, tags outside the
configured labels) before anything is written. Not here: sampling (``sampler.py``), the run folder.

Example::

    pools = checked_pools(regimen_phases("blend"), gold, distilled, dev)
    data = prepare_features(cfg, base, run_labels(cfg, pools.gold, pools.distilled, pools.dev), pools)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_ner.data import Record, label_list, repair_iob2
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS
from offline_ner.errors import TrainError
from offline_ner.train._model import load_tokenizer
from offline_ner.train.config import TrainConfig
from offline_ner.train.features import Feature, FeatureStats, build_features
from offline_ner.train.regimens import Phase


@dataclass(frozen=True)
class Pools:
    """The run's records, checked for what the regimen needs and IOB2-repaired, with the repair counts."""

    gold: list[Record]
    distilled: list[Record]
    dev: list[Record]
    gold_repairs: int
    distilled_repairs: int


@dataclass(frozen=True)
class Prepared:
    """What every phase shares: tokenizer, labels, features and the dev records (and what featurizing did)."""

    tokenizer: Any
    labels: list[str]
    gold: list[Feature]
    distilled: list[Feature]
    dev: list[Feature]
    dev_records: list[Record]
    stats: dict[str, FeatureStats]  # per pool: gold, distilled, dev


def checked_pools(
    phases: Sequence[Phase], gold: Sequence[Record], distilled: Sequence[Record], dev: Sequence[Record]
) -> Pools:
    """The records, refused when the regimen lacks data or a record lacks tags; IOB2 repaired (dev as given)."""
    _check_data(phases, gold, distilled, dev)
    gold_records, gold_repairs = _repaired(gold, "gold")
    distilled_records, distilled_repairs = _repaired(distilled, "distilled")
    return Pools(gold_records, distilled_records, list(dev), gold_repairs, distilled_repairs)


def run_labels(cfg: TrainConfig, *pools: Sequence[Record]) -> list[str]:
    """The configured labels (refusing tags outside them), else CoNLL's plus any other types the data holds."""
    seen = {tag for pool in pools for record in pool for tag in record.tags or ()}
    if cfg.labels:
        unknown = sorted(seen - set(cfg.labels))
        if unknown:
            raise TrainError(f"tags {', '.join(unknown)} occur in the data but not in the configured labels")
        return list(cfg.labels)
    base = list(label_list())
    extra_types = sorted({tag[2:] for tag in seen if tag != "O"} - {label[2:] for label in base if label != "O"})
    return base + [f"{prefix}-{name}" for name in extra_types for prefix in ("B", "I")]


def prepare_features(cfg: TrainConfig, base: Path, labels: list[str], pools: Pools) -> Prepared:
    """Tokenizer and features of every pool, and the dev records that pick checkpoints."""
    tokenizer = load_tokenizer(base)
    label2id = {label: i for i, label in enumerate(labels)}
    # a phase that does not use a pool never samples it, but featurizing both keeps one index space
    gold_f, gold_stats = build_features(pools.gold, tokenizer, label2id, cfg.max_length)
    distilled_f, distilled_stats = build_features(pools.distilled, tokenizer, label2id, cfg.max_length)
    # evaluating every epoch on a large dev set can cost as much as the training itself: a subset picks the
    # checkpoint, and the whole set scores the final model once
    selection = _dev_selection(pools.dev, cfg.dev_subset)
    dev_f, dev_stats = build_features(selection, tokenizer, label2id, WINDOW_TOKENS, OVERLAP_TOKENS)  # as scored
    dev_f.sort(key=lambda f: len(f.input_ids))  # eval batches in order: sorted, they pad little
    stats = {"gold": gold_stats, "distilled": distilled_stats, "dev": dev_stats}
    return Prepared(tokenizer, labels, gold_f, distilled_f, dev_f, selection, stats)


def _repaired(records: Sequence[Record], role: str) -> tuple[list[Record], int]:
    """Records with IOB2 repaired (dangling I-X -> B-X, common in LLM output) and the repair count."""
    out, total = [], 0
    for record in records:
        if record.tags is None:
            raise TrainError(f"{role} record {record.id} has no tags; training needs labelled records")
        tags, n = repair_iob2(record.tags)
        out.append(record.with_tags(tags) if n else record)
        total += n
    return out, total


def _check_data(
    phases: Sequence[Phase], gold: Sequence[Record], distilled: Sequence[Record], dev: Sequence[Record]
) -> None:
    needed = {"gold": any(p.uses_gold for p in phases), "distilled": any(p.uses_distilled for p in phases)}
    missing = [name for name, pool in (("gold", gold), ("distilled", distilled)) if needed[name] and not pool]
    if missing:
        raise TrainError(f"this regimen trains on {' and '.join(missing)} records, but none were given")
    unlabelled = [r.id for r in dev if r.tags is None]
    if unlabelled:
        raise TrainError(f"dev record {unlabelled[0]} has no tags")


def _dev_selection(dev: Sequence[Record], size: int) -> list[Record]:
    """``size`` dev records spread evenly over the set (all of them when ``size`` is 0 or covers the set)."""
    if not size or size >= len(dev):
        return list(dev)
    return [dev[i * len(dev) // size] for i in range(size)]
