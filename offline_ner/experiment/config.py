"""An experiment's settings: data sources, the arms compared, gold-set sizes, seeds and shared train settings.

An *arm* is one training recipe (a regimen, its schedule, which distilled set, an optional selection filter).
The grid is arms × (schedule parameter lists) × gold sizes × seeds; see :mod:`offline_ner.experiment.grid`.
``train`` holds keys of the trainer's ``TrainConfig`` that every run shares (step budget, max length, base
model); an arm's own ``train`` mapping overrides them. This module checks shape only; the trainer validates its
own keys when a run starts.

Example::

    cfg = load_experiment("experiments/paper", overrides=["seeds=[1]"])
    print([arm.name for arm in cfg.arms], cfg.gold_sizes)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from offline_ner.config import apply_overrides, from_mapping, load_yaml, overridden_keys
from offline_ner.errors import ConfigError
from offline_ner.review.choices import DEFAULT_SIGNAL, RANDOM, RANKINGS

ALL = "all"  # a gold size meaning "every gold sentence in the pool"


@dataclass(frozen=True)
class SourceConfig:
    """Where records come from: a CoNLL/JSONL file or text folder, a NoiseBench aligned file, or a bundle."""

    # a path (relative paths resolve against the working directory) or "bundle:<ref>"
    path: str
    # "records" = offline_ner.data.read_records; "noisebench" = the aligned NoiseBench JSONL (one label column)
    format: Literal["records", "noisebench"] = "records"
    # noisebench only: the label column to use (noise_llm = the LLM's labels, gold_conll2003 = the gold ones)
    labels: str = "noise_llm"
    # noisebench only: record ids become "<id_prefix>:<conll_train_sentence_index>", the ids read_conll gives
    # the sentences of conll2003/train.txt, so a gold pool can exclude exactly the distilled sentences
    id_prefix: str = "train"
    # keep the first N records (None = all): e.g. a dev subset keeps per-run evaluation cheap on CPU
    limit: int | None = None


# selection kinds (see offline_ner.experiment.selection for what each does to the distilled records)
SelectionKind = Literal["agreement", "cv_agreement", "token_mask", "confident_learning", "relabel", "retype",
                        "k_of_n", "review"]
# kinds judged by k-fold gold-only teachers (out-of-fold where a distilled sentence is also a gold one)
FOLD_KINDS = frozenset({"cv_agreement", "token_mask", "confident_learning", "relabel", "retype"})
# kinds that need a teacher arm: the fold kinds train their teachers with its recipe, agreement uses its model, and
# review ranks with its model's probabilities (except the random ranking, which needs none)
TEACHER_KINDS = FOLD_KINDS | {"agreement", "review"}
# the SelectionConfig fields each kind reads (only these go into a cell's fingerprint)
SELECTION_FIELDS: dict[SelectionKind, tuple[str, ...]] = {
    "agreement": ("kind", "teacher", "min_agreement"),
    "cv_agreement": ("kind", "teacher", "min_agreement", "folds"),
    "token_mask": ("kind", "teacher", "folds"),
    "confident_learning": ("kind", "teacher", "folds", "action"),
    "relabel": ("kind", "teacher", "folds", "min_confidence"),
    "retype": ("kind", "teacher", "folds", "min_confidence"),
    "k_of_n": ("kind", "k"),
    "review": ("kind", "teacher", "ranking", "reviewed", "reviewer", "review_into"),
}
# fields added after cells were run with their kind: at this default they stay out of a cell's fingerprint, so
# those cells are not rerun
LATER_SELECTION_FIELDS: dict[str, Any] = {"review_into": "distilled"}


@dataclass(frozen=True)
class SelectionConfig:
    """What to do with the distilled labels before training (the paper's "annotation selection" future work)."""

    # agreement: keep sentences whose LLM spans agree with the teacher arm's own model (trained on all the gold);
    # cv_agreement: the same judged by k-fold teachers; token_mask: no loss on tokens the LLM and the fold
    # teachers tag differently; confident_learning: cleanlab's find_label_issues on the fold teachers'
    # probabilities; relabel: the fold teachers' tag where they are confident; retype: the LLM's spans, typed by
    # the fold teachers where they are confident; k_of_n: vote over the LLM samples; review: the top ``reviewed``
    # sentences of a ranking get the reviewer source's labels (issue 31: what review buys per sentence)
    kind: SelectionKind = "agreement"
    # the arm whose model (agreement) or recipe (the fold kinds) makes the teacher, at the same seed and gold size;
    # for the fold kinds it must train on gold only. Unused by k_of_n
    teacher: str = "gold-only"
    # agreement, cv_agreement: keep a sentence when the LLM/teacher span F1 is at least this (1.0 = exact)
    min_agreement: float = 1.0
    # fold kinds: how many gold-only teachers, each trained without one fold of the gold subset
    folds: int = 5
    # relabel: replace an LLM tag with the teacher's when the teacher's probability for its tag is at least this;
    # retype: give an LLM span the teacher's type when the teacher's mass for that type over the span is at least this
    min_confidence: float = 0.9
    # confident_learning: drop the sentences with a label issue, or mask the tokens with one (no loss)
    action: Literal["drop", "mask"] = "mask"
    # k_of_n: keep the entities at least k of the record's LLM samples agree on (provenance.sample_tags)
    k: int = 2
    # review: how the sentences to review are picked (offline_ner.review.choices.RANKINGS: a teacher signal, or
    # random), how many are reviewed, and the distilled source whose labels a reviewer would give (simulated review:
    # the same sentences with gold labels)
    ranking: str = DEFAULT_SIGNAL
    reviewed: int = 1000
    reviewer: str = "gold_labels"
    # review: where the reviewed sentences go: in place of their LLM labels in the distilled phase, or out of it and
    # into the gold phase (what a user who trusts a person's corrections as gold would do)
    review_into: Literal["distilled", "gold"] = "distilled"


@dataclass(frozen=True)
class ArmConfig:
    """One training recipe compared in the experiment."""

    name: str
    # one of offline_ner.train.REGIMENS
    regimen: str
    # ScheduleConfig keys for blend regimens; a list value is a parameter axis and expands into several runs
    schedule: Mapping[str, Any] = field(default_factory=dict)
    # the name of the distilled source this arm trains on
    distilled: str = "llm"
    selection: SelectionConfig | None = None
    # overrides the experiment's gold sizes (e.g. distilled-only does not depend on them)
    gold_sizes: tuple[int | str, ...] | None = None
    # TrainConfig overrides for this arm only
    train: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentConfig:
    """The whole grid; see the module docstring."""

    name: str
    # gold pool: gold subsets of each size are drawn from it (nested, one fixed order per seed)
    gold: SourceConfig
    # distilled sources by name -> SourceConfig (an arm picks one); their ids are excluded from the gold pool
    # (typed Any: config.from_mapping would read a mapping of sources as one source)
    distilled: Mapping[str, Any]
    # dev: early stopping and best checkpoint; test: the reported F1
    dev: SourceConfig
    test: SourceConfig
    arms: tuple[ArmConfig, ...]
    # gold subset sizes; "all" = the whole pool
    gold_sizes: tuple[int | str, ...] = (1000,)
    # seeds: each draws its own gold subset and initialisation; mean ± std is over seeds
    seeds: tuple[int, ...] = (1, 2)
    # TrainConfig keys shared by every run
    train: Mapping[str, Any] = field(default_factory=dict)
    # optimizer steps per run, split equally over a regimen's phases (0 = leave budgets to the train keys):
    # the same budget for every arm, so no regimen wins by taking more steps
    step_budget: int = 0
    # where results.jsonl, run folders, the table and plots go
    out_dir: str = "runs/experiment"
    # model folders are large: keep only those other arms need (selection teachers) unless True
    keep_models: bool = False


def _source(value: Any, where: str, key: str) -> SourceConfig:
    if isinstance(value, str):
        value = {"path": value}
    return from_mapping(SourceConfig, value, where=where, prefix=key + ".")


def _arm(value: Any, where: str, key: str) -> ArmConfig:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key}: expected a mapping with name and regimen, found {value!r}")
    return from_mapping(ArmConfig, value, where=where, prefix=key + ".")


def experiment_from_mapping(
    mapping: Mapping[str, Any], *, where: str = "config", overridden: Mapping[str, str] | None = None
) -> ExperimentConfig:
    """Build and cross-check an :class:`ExperimentConfig` (names unique, references resolve, sizes valid).

    ``overridden`` (dotted key -> ``--set`` item): a bad top-level value set there is blamed on the override.
    """
    values = dict(mapping)
    for key in ("gold", "dev", "test"):
        if key in values:
            values[key] = _source(values[key], where, key)
    distilled = values.get("distilled", {})
    if not isinstance(distilled, Mapping) or not distilled:
        raise ConfigError(f"{where}: distilled: expected a mapping of named sources, e.g. {{llm: {{path: ...}}}}")
    values["distilled"] = {name: _source(src, where, f"distilled.{name}") for name, src in distilled.items()}
    arms = values.get("arms")
    if not isinstance(arms, (list, tuple)) or not arms:
        raise ConfigError(f"{where}: arms: expected a non-empty list of arms")
    values["arms"] = tuple(_arm(arm, where, f"arms[{i}]") for i, arm in enumerate(arms))
    cfg = from_mapping(ExperimentConfig, values, where=where, overridden=overridden)
    _check(cfg, where)
    return cfg


def _check(cfg: ExperimentConfig, where: str) -> None:
    names = [arm.name for arm in cfg.arms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}.arms: duplicate arm names {', '.join(duplicates)}")
    for arm in cfg.arms:
        if arm.distilled not in cfg.distilled:
            raise ConfigError(
                f"{where}: arm {arm.name!r} uses distilled source {arm.distilled!r}; known: {', '.join(cfg.distilled)}"
            )
        if arm.selection is not None:
            _check_selection(cfg, arm, arm.selection, where)
    sizes = [*cfg.gold_sizes, *(s for arm in cfg.arms for s in arm.gold_sizes or ())]
    bad = [s for s in sizes if not (s == ALL or (isinstance(s, int) and s > 0))]
    if bad:
        raise ConfigError(f"{where}: gold sizes must be positive integers or {ALL!r}, found {bad}")
    if cfg.step_budget < 0:
        raise ConfigError(f"{where}.step_budget: must be >= 0, not {cfg.step_budget}")
    if not cfg.seeds:
        raise ConfigError(f"{where}.seeds: at least one seed is needed")


def _check_selection(cfg: ExperimentConfig, arm: ArmConfig, selection: SelectionConfig, where: str) -> None:
    key = f"{where}: arm {arm.name!r}: selection"
    if selection.kind == "review":
        _check_review(cfg, selection, key)
    if needs_teacher(selection):
        teacher = next((a for a in cfg.arms if a.name == selection.teacher), None)
        if teacher is None or teacher.selection is not None:
            raise ConfigError(
                f"{where}: arm {arm.name!r} selects with teacher {selection.teacher!r}, "
                "which must be another arm of this experiment without a selection of its own"
            )
    if selection.folds < 2:
        raise ConfigError(f"{key}.folds: at least 2 folds are needed, not {selection.folds}")
    for name in ("min_agreement", "min_confidence"):
        value = getattr(selection, name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key}.{name}: must be between 0 and 1, not {value}")
    if selection.k < 1:
        raise ConfigError(f"{key}.k: must be >= 1, not {selection.k}")


def needs_teacher(selection: SelectionConfig | None) -> bool:
    """Whether a selection is judged by a teacher arm (all kinds but k_of_n and a randomly ordered review)."""
    if selection is None or selection.kind not in TEACHER_KINDS:
        return False
    return not (selection.kind == "review" and selection.ranking == RANDOM)


def _check_review(cfg: ExperimentConfig, selection: SelectionConfig, key: str) -> None:
    if selection.ranking not in RANKINGS:
        raise ConfigError(f"{key}.ranking: expected one of {', '.join(RANKINGS)}, not {selection.ranking!r}")
    if selection.reviewed < 1:
        raise ConfigError(f"{key}.reviewed: at least 1 sentence is reviewed, not {selection.reviewed}")
    if selection.reviewer not in cfg.distilled:
        raise ConfigError(f"{key}.reviewer: {selection.reviewer!r} is not a distilled source of this experiment; "
                          f"known: {', '.join(cfg.distilled)}")


def load_experiment(path: str | os.PathLike[str], *, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read an experiment YAML file, apply ``key=value`` overrides, build and cross-check the config."""
    overrides = list(overrides)
    mapping = apply_overrides(load_yaml(path), overrides)
    return experiment_from_mapping(mapping, where=str(path), overridden=overridden_keys(overrides))
