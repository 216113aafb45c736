"""Load an experiment's records: plain files, the aligned NoiseBench file, and the seeded gold subsets.

The gold pool excludes every record id of every distilled source, so gold and distilled never share a sentence
(the paper's design: LLM labels on one part of CoNLL train, gold labels on the rest). Gold subsets are nested: one
fixed permutation per seed, of which a size-N subset is the first N records, so 500 ⊂ 1000 ⊂ 2000 within a seed
and every arm at one seed and size sees the same gold sentences (paired comparisons).

``bundle:`` sources are resolved by a ``resolve_bundle`` callable the CLI passes in (verify-then-read lives in
the bundle stage, which this package must not import).

Example::

    data = ExperimentData.load(cfg)
    gold = data.gold_subset(1000, seed=1)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from offline_ner.contracts import BUNDLE_PREFIX
from offline_ner.data import Record, iter_json_lines, read_records, repair_iob2, require_tags
from offline_ner.errors import ConfigError, DataError
from offline_ner.experiment.config import ALL, ExperimentConfig, SourceConfig

BundleResolver = Callable[[str], list[Record]]


def read_noisebench(path: Path, labels: str, id_prefix: str) -> list[Record]:
    """Records from the aligned NoiseBench JSONL, tagged with one of its label columns (IOB2-repaired)."""
    records = []
    for row, where in iter_json_lines(path):
        try:
            tokens, tags = row["tokens"], row[labels]
            index = row["conll_train_sentence_index"]
        except (KeyError, TypeError) as err:
            raise DataError(f"not a NoiseBench row with tokens, {labels} and conll_train_sentence_index: {err}",
                            **where) from err
        repaired, _ = repair_iob2(tags)
        records.append(Record(id=f"{id_prefix}:{index}", tokens=tuple(tokens), tags=repaired, source=path.name,
                              provenance={"labels": labels}))
    if not records:
        raise DataError("no records found (empty file?)", path=path)
    return records


def read_source(source: SourceConfig, resolve_bundle: BundleResolver | None = None) -> list[Record]:
    """All records of one source (first ``limit`` only when set)."""
    if source.path.startswith(BUNDLE_PREFIX):
        if resolve_bundle is None:
            raise ConfigError(f"{source.path}: bundle sources need the CLI (offline-ner experiment) to resolve them")
        records = resolve_bundle(source.path[len(BUNDLE_PREFIX):])
    elif source.format == "noisebench":
        records = read_noisebench(Path(source.path), source.labels, source.id_prefix)
    else:
        records = read_records(source.path)
    require_tags(records, "experiments need labelled records", path=source.path)
    return records[: source.limit] if source.limit is not None else records


@dataclass(frozen=True)
class ExperimentData:
    """Every record an experiment uses, loaded once and shared by its runs."""

    gold_pool: tuple[Record, ...]
    distilled: Mapping[str, tuple[Record, ...]]
    dev: tuple[Record, ...]
    test: tuple[Record, ...]

    @classmethod
    def load(cls, cfg: ExperimentConfig, resolve_bundle: BundleResolver | None = None) -> ExperimentData:
        distilled = {name: tuple(read_source(src, resolve_bundle)) for name, src in cfg.distilled.items()}
        taken = {r.id for records in distilled.values() for r in records}
        pool = tuple(r for r in read_source(cfg.gold, resolve_bundle) if r.id not in taken)
        if not pool:
            raise DataError("no gold records left after removing the distilled sentences", path=cfg.gold.path)
        return cls(pool, distilled, tuple(read_source(cfg.dev, resolve_bundle)),
                   tuple(read_source(cfg.test, resolve_bundle)))

    def gold_subset(self, size: int | str, seed: int) -> list[Record]:
        """The first ``size`` records of this seed's permutation of the pool (all of it for ``"all"``)."""
        order = list(self.gold_pool)
        random.Random(seed).shuffle(order)
        if size == ALL:
            return order
        if not isinstance(size, int) or size > len(order):
            raise ConfigError(f"gold size {size} exceeds the {len(order)} gold records available")
        return order[:size]
