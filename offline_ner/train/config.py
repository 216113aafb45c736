"""The training config: one frozen dataclass per concern, built from YAML by ``offline_ner.config``.

Every default carries the reason it was chosen. Budgets apply per phase: ``epochs`` or, when > 0, ``max_steps``
(``phase_max_steps`` gives each phase its own budget), so experiments can compare regimens at equal step budgets;
``patience`` > 0 stops a phase once dev F1 stops improving, so they can also compare at convergence.

Example::

    cfg = load_config("simple_mix", TrainConfig, overrides=["epochs=2", "schedule.k=5"])
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, fields

from offline_ner.data import label_list
from offline_ner.train.regimens import REGIMENS, regimen_phases
from offline_ner.train.schedules import PARAM_DEFAULTS, SCHEDULE_PARAMS, SHARE_PARAMS, check_params, check_share

EVAL_MODES = ("default", "strict")
# report_to value -> (HF integration name, Python package it needs); None: no report beyond train_log.jsonl
REPORT_TARGETS: dict[str, tuple[str, str] | None] = {"none": None, "tensorboard": ("tensorboard", "tensorboard")}
# which model of a phase: its best dev checkpoint or its last one (carry_over: passed to the next phase; keep: published)
PHASE_MODELS = ("best", "last")


def check_report_target(target: str) -> None:
    """ValueError (a config error, found before torch loads) for an unknown target or one not installed."""
    if target not in REPORT_TARGETS:
        raise ValueError(f"report_to must be one of {', '.join(REPORT_TARGETS)}, not {target!r}")
    needed = REPORT_TARGETS[target]
    if needed is not None and importlib.util.find_spec(needed[1]) is None:
        raise ValueError(f"report_to: {target} needs the {needed[1]!r} package, which is not installed; "
                         f"pip install 'offline-ner[{target}]' (or {needed[1]}), or set report_to: none")


@dataclass(frozen=True)
class ScheduleConfig:
    """A blend schedule: ``kind`` plus its parameters (each kind reads only its own; see ``schedules.py``)."""

    kind: str = "sigmoid"  # the paper's smooth curve; distilled first, then gold, like Simple Mix
    # each parameter's default and its reason: schedules.PARAM_DEFAULTS
    s_max: float = PARAM_DEFAULTS["s_max"]
    k: float = PARAM_DEFAULTS["k"]
    p0: float = PARAM_DEFAULTS["p0"]
    s0: float = PARAM_DEFAULTS["s0"]
    s1: float = PARAM_DEFAULTS["s1"]
    alpha: float = PARAM_DEFAULTS["alpha"]
    tau: float = PARAM_DEFAULTS["tau"]
    rate: float = PARAM_DEFAULTS["rate"]

    def __post_init__(self) -> None:
        check_params(self.kind, self.params())
        for name in SHARE_PARAMS:  # shares even where this kind ignores them: a typo should not hide
            check_share("schedule.", name, getattr(self, name))

    def params(self) -> dict[str, float]:
        """The parameters ``kind`` uses, as keyword arguments for ``blend_share``."""
        if self.kind not in SCHEDULE_PARAMS:
            return {}
        return {name: getattr(self, name) for name in SCHEDULE_PARAMS[self.kind]}


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides the records and the output folder."""

    regimen: str = "distilled_then_gold"  # "Simple Mix", the best regimen in Huang et al. 2024
    base_model: str = "minilm-l6-uncased"  # the packaged offline default; or a path to an HF model folder
    gold: str | None = None  # data source (CoNLL/JSONL path); read by the CLI, not by train()
    distilled: str | None = None  # data source of LLM-labelled records
    dev: str | None = None  # data source for early stopping and best-checkpoint selection
    seed: int = 42  # any fixed value; fixed so reruns give the same model
    max_length: int = 128  # subwords per window; >99% of CoNLL sentences fit, longer ones are windowed
    batch_size: int = 16  # more updates per epoch on small gold sets; measured better than 32 at 1k sentences
    eval_batch_size: int = 64  # inference needs no gradients, so twice the training batch fits
    learning_rate: float = 2e-4  # MiniLM-L6, 1k gold: dev F1 0.705 vs 0.359 at 5e-5; bert-base wants 3e-5..5e-5
    weight_decay: float = 0.01  # the standard AdamW decay for BERT fine-tuning
    warmup_ratio: float = 0.1  # a short warm-up keeps the new classifier head from wrecking the encoder
    epochs: float = 3.0  # per phase; 3 is the usual BERT NER budget on CoNLL
    phase_epochs: tuple[float, ...] = ()  # per-phase epochs in phase order (e.g. [2, 10]); overrides epochs
    max_steps: int = 0  # per phase; > 0 replaces epochs with a fixed step budget (fair comparisons)
    phase_max_steps: tuple[int, ...] = ()  # per-phase step budgets in phase order; overrides max_steps
    patience: int = 0  # evaluations without dev F1 gain before a phase stops; 0 = train the full budget
    eval_every_steps: int = 0  # 0 = evaluate (and checkpoint) at the end of every epoch
    dev_subset: int = 0  # > 0: pick checkpoints on this many dev records (evenly spread); all are scored at the end
    eval_mode: str = "default"  # seqeval mode that picks the best checkpoint; "strict" = IOB2-exact
    carry_over: str = "best"  # a later phase starts from the earlier phase's best dev checkpoint, not its last
    keep: str = "best"  # the final model: the last phase's best dev checkpoint, or its last one
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)  # used by the blend regimen only
    blend_epoch_size: int = 0  # records per blend epoch; 0 = gold + distilled, one pass's worth of data
    word_weighted_loss: bool = True  # every labelled word weighs the same in every batch (2 epochs, 1k gold: see BENCHMARKS.md)
    freeze_word_embeddings: bool = False  # keep the pre-trained word vectors fixed (fewer weights to update)
    # random batches packed into rows of 64 tokens: no padding, and 2-epoch test F1 0.7545 (HF Trainer 0.7549)
    # where length-sorted batches reached 0.7166; 128 was slower (BENCHMARKS.md); 0 = pad, length-grouped
    pack_tokens: int = 64
    length_group_batches: int = 16  # with pack_tokens 0: batches per length-sorted group (less padding)
    labels: tuple[str, ...] = ()  # the run's label set, in id order; empty = the CoNLL labels (label_set)
    logging_steps: int = 50  # loss/lr lines in the training log; ~1-2 per minute on 2 CPU cores
    torch_threads: int = 0  # 0 = torch's default (all cores); set lower on a shared machine
    # continue a killed run from its last checkpoint in the same output folder; false: start over there, and
    # checkpoints keep weights only (no optimizer state: ~0.6 s less per MiniLM checkpoint, nothing to resume)
    resume: bool = True
    report_to: str = "none"  # "tensorboard": HF's TensorBoard events in <out>/tensorboard (needs the package)

    def __post_init__(self) -> None:
        if self.regimen not in REGIMENS:
            raise ValueError(f"regimen must be one of {', '.join(REGIMENS)}, not {self.regimen!r}")
        if self.eval_mode not in EVAL_MODES:
            raise ValueError(f"eval_mode must be one of {', '.join(EVAL_MODES)}, not {self.eval_mode!r}")
        for key in ("carry_over", "keep"):
            if getattr(self, key) not in PHASE_MODELS:
                raise ValueError(f"{key} must be one of {', '.join(PHASE_MODELS)}, not {getattr(self, key)!r}")
        check_report_target(self.report_to)
        positive = ("max_length", "batch_size", "eval_batch_size", "length_group_batches", "logging_steps")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8 subwords, not {self.max_length}")
        for name in ("max_steps", "patience", "eval_every_steps", "blend_epoch_size", "torch_threads", "dev_subset",
                     "pack_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.epochs <= 0 and self.max_steps == 0 and not self.phase_max_steps and not self.phase_epochs:
            raise ValueError("set epochs > 0 or a step budget (max_steps / phase_max_steps)")
        n_phases = len(regimen_phases(self.regimen))
        for name in ("phase_max_steps", "phase_epochs"):
            budgets = getattr(self, name)
            if any(budget <= 0 for budget in budgets):
                raise ValueError(f"{name} must all be > 0, not {list(budgets)}")
            if budgets and len(budgets) != n_phases:
                raise ValueError(
                    f"{name} has {len(budgets)} entries but regimen {self.regimen!r} has {n_phases} phase(s)"
                )

    @property
    def label_set(self) -> tuple[str, ...]:
        """The labels this run trains: ``labels``, else the CoNLL ones. A tag outside them in the data is refused
        (file and line named) rather than made a class of its own: one mistyped ``I-PRE`` once added two."""
        return self.labels or tuple(label_list())

    def phase_steps(self, phase_index: int) -> int:
        """The step budget of one phase (0 = use ``phase_epochs``/``epochs``)."""
        return self.phase_max_steps[phase_index] if self.phase_max_steps else self.max_steps

    def phase_epoch_budget(self, phase_index: int) -> float:
        """The epochs of one phase: its ``phase_epochs`` entry, else ``epochs``."""
        return self.phase_epochs[phase_index] if self.phase_epochs else self.epochs

    def to_json(self) -> dict[str, object]:
        """A plain mapping (YAML/JSON-ready) with the schedule nested."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = {s.name: getattr(value, s.name) for s in fields(value)} if f.name == "schedule" else (
                list(value) if isinstance(value, tuple) else value
            )
        return out
