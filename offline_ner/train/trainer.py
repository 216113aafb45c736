"""Train a token classifier from gold and distilled records with any regimen: HF Trainer runs every phase.

For each phase of the regimen (``regimens.py``) this builds a :class:`SamplingPlan` (``sampler.py``) and runs a
Hugging Face ``Trainer`` whose train sampler is that plan, so the regimen and the blend schedule decide what
every step sees. The trainer counts the gold and distilled records it actually computes a loss on, per epoch,
and the log sets that realised share beside the share the curve asks for. Dev F1 (seqeval, word level, windows
joined back) picks the best checkpoint and drives early stopping. Every evaluation saves a checkpoint; a rerun
with the same config, data and output folder resumes from the last complete one (also after ``kill -9``).

Output folder layout::

    out_dir/model/            the final HF model folder (tokenizer, config.id2label): from_pretrained works
    out_dir/metrics.json      best dev F1, steps, wall time, tokens/s, realised shares, windowing counts
                              (:class:`~offline_ner.contracts.TrainMetrics`)
    out_dir/train_log.jsonl   one JSON event per line: start, log (loss, lr, eval_f1), share, resume, phase_end
    out_dir/checkpoints/      per phase: HF checkpoints, ``final`` (the phase's best), ``phase.json`` when done
                              (:class:`~offline_ner.contracts.PhaseResult`)

Not here: reading files or bundles (the CLI does that), export, inference.

Example::

    result = train(cfg, gold=gold, distilled=distilled, dev=dev, out_dir=Path("runs/simple-mix"))
    result.metrics.best_dev_f1, result.model_dir
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import offline_ner.offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
import torch
from transformers import (
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    EvalPrediction,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from offline_ner._fs import atomic_write_text
from offline_ner.contracts import EpochShare, PhaseResult, TrainMetrics
from offline_ner.data import Record, label_list, repair_iob2
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS
from offline_ner.errors import TrainError
from offline_ner.train import distributed
from offline_ner.train._model import decode_words, load_classifier, load_tokenizer
from offline_ner.train.base_model import resolve_base_model
from offline_ner.train.config import TrainConfig
from offline_ner.train.console import ConsoleProgress, report_arguments, show_bars
from offline_ner.train.evaluation import evaluate_model, score_tags
from offline_ner.train.features import Feature, FeatureStats, build_features
from offline_ner.train.packing import pack_batch
from offline_ner.train.regimens import Phase, regimen_phases
from offline_ner.train.sampler import SamplingPlan, epoch_order, expected_share
from offline_ner.train.schedules import schedule_curve

SHARE_FILE = "share_counts.json"  # per checkpoint: the realised-share counts so far, restored on resume
PHASE_FILE = "phase.json"  # written when a phase is complete; a rerun skips that phase


@dataclass(frozen=True)
class TrainResult:
    """Where the trained model is, and what the run measured (``metrics.json`` is ``metrics.to_json()``)."""

    model_dir: Path
    metrics: TrainMetrics
    log_path: Path


class _JsonlLog:
    """Append-only training log; each event is flushed at once so a killed run keeps its history. Rank 0 writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: dict[str, Any]) -> None:
        if not distributed.is_main():
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True) + "\n")


class _ShareCounter:
    """Gold and distilled records (and non-pad tokens) the model computed a loss on, per epoch, in this process."""

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, int]] = {}
        self.tokens_this_run = 0

    def add(self, epoch: int, distilled: int, gold: int, tokens: int) -> None:
        counts = self.epochs.setdefault(epoch, {"gold": 0, "distilled": 0})
        counts["gold"] += gold
        counts["distilled"] += distilled
        self.tokens_this_run += tokens

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps({str(e): c for e, c in self.epochs.items()}))

    def load(self, path: Path) -> None:
        """Restore the counts saved with a checkpoint: the sum over all ranks, so rank 0 takes them, others zeros."""
        saved = {int(e): c for e, c in json.loads(path.read_text(encoding="utf-8")).items()}
        keep = distributed.is_main()
        self.epochs = {e: {k: n if keep else 0 for k, n in c.items()} for e, c in saved.items()}

    def summed(self) -> _ShareCounter:
        """The counts of every rank together (this process's own outside torchrun). Every rank must call it."""
        epochs = sorted(self.epochs)
        flat = [n for e in epochs for n in (self.epochs[e]["gold"], self.epochs[e]["distilled"])]
        *totals, tokens = distributed.sum_over_ranks([*flat, self.tokens_this_run])
        out = _ShareCounter()
        out.epochs = {e: {"gold": totals[2 * i], "distilled": totals[2 * i + 1]} for i, e in enumerate(epochs)}
        out.tokens_this_run = tokens
        return out


class _PlanSampler(torch.utils.data.Sampler[int]):
    """The plan's order for the current epoch; the Trainer (via accelerate) calls ``set_epoch`` each epoch."""

    def __init__(self, plan: SamplingPlan) -> None:
        self.plan = plan
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.plan, self.epoch))

    def __len__(self) -> int:
        return self.plan.epoch_size


class _Collator:
    """Dynamic padding (HF's token-classification collator) or packed rows (``pack_tokens`` > 0, training only).

    Either way the batch carries the ``is_distilled`` flags and its non-pad token count along for the counter.
    """

    def __init__(self, tokenizer: Any, pack_tokens: int = 0) -> None:
        self._pad = DataCollatorForTokenClassification(tokenizer)
        self._pad_id = tokenizer.pad_token_id
        self._pack_tokens = pack_tokens

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        flags = torch.tensor([item["is_distilled"] for item in items], dtype=torch.long)
        inputs = [{k: v for k, v in item.items() if k != "is_distilled"} for item in items]
        if self._pack_tokens:
            batch = pack_batch(inputs, self._pad_id, self._pack_tokens)
        else:
            batch = self._pad(inputs)
        batch["is_distilled"] = flags
        batch["n_tokens"] = torch.tensor(sum(len(item["input_ids"]) for item in items))
        return batch


class _PhaseTrainer(Trainer):
    """HF Trainer with our sampler, a count of what each training batch held, and an optional word-weighted loss.

    With ``words_per_batch`` > 0 the training loss is the sum of the word losses divided by that constant (the
    phase's mean labelled words per batch) instead of their mean per batch. Length-grouped batches differ a lot in
    how many words they hold, and a per-batch mean gives each word of a batch of short sentences several times
    the weight of a word in a batch of long ones; the constant weighs every word alike, as random batches do.
    """

    def __init__(self, *args: Any, plan_sampler: _PlanSampler, counter: _ShareCounter, words_per_batch: float,
                 train_collator: _Collator, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plan_sampler = plan_sampler
        self._counter = counter
        self._words_per_batch = words_per_batch
        self._train_collator = train_collator

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler[int]:
        return self._plan_sampler

    def get_train_dataloader(self) -> Any:
        # training batches may be packed; dev batches stay padded rows, one per feature, for the scorer
        eval_collator: Any = self.data_collator  # type: ignore[has-type]
        self.data_collator = self._train_collator
        try:
            return super().get_train_dataloader()
        finally:
            self.data_collator = eval_collator

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        flags = inputs.pop("is_distilled")
        tokens = int(inputs.pop("n_tokens"))
        if model.training:
            distilled = int(flags.sum())
            self._counter.add(self._plan_sampler.epoch, distilled, len(flags) - distilled, tokens)
        if not model.training or not self._words_per_batch:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        word_losses = torch.nn.functional.cross_entropy(outputs.logits.flatten(0, 1).float(), labels.flatten(),
                                                        ignore_index=-100, reduction="sum")
        loss = word_losses / self._words_per_batch
        return (loss, outputs) if return_outputs else loss


class _DevScorer:
    """``compute_metrics`` for the Trainer: word-level seqeval F1 on the dev records, windows joined back and
    decoded as ``predict`` and ``evaluate`` decode (valid IOB2), so the checkpoint picked is the one they score."""

    def __init__(self, features: Sequence[Feature], records: Sequence[Record], id2label: dict[int, str], mode: str):
        self.features, self.records, self.id2label, self.mode = features, records, id2label, mode

    def __call__(self, prediction: EvalPrediction) -> dict[str, float]:
        log_probs = prediction.predictions  # (features, positions, labels); HF pads beyond each feature
        scores = [log_probs[i][list(f.word_positions)] for i, f in enumerate(self.features)]
        labels = [self.id2label[i] for i in range(len(self.id2label))]
        words = decode_words(self.features, scores, len(self.records), labels)
        predicted = [[self.id2label[i] for i in ids] for ids in words]
        report = score_tags([list(r.tags or ()) for r in self.records], predicted, mode=self.mode)
        return {"f1": report.f1, "precision": report.precision, "recall": report.recall}


class _TimeSplit(TrainerCallback):
    """Where a phase's wall time goes, from the model's forward hooks, the optimizer's step hooks and Trainer events.

    forward: the training forward pass (loss included); backward: from its end to the optimizer step (gradient
    clipping included); optimizer: the step, the scheduler and zeroing the gradients; data: from the end of one step
    to the next forward pass (batch sampling, collation); evaluation: dev prediction and scoring; checkpoint: saving.
    """

    PARTS = ("forward", "backward", "optimizer", "data", "evaluation", "checkpoint")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.PARTS, 0.0)
        self._mark = time.perf_counter()
        self._training_forward = False
        self._handles: list[Any] = []

    def _add(self, part: str) -> None:
        now = time.perf_counter()
        self.seconds[part] += now - self._mark
        self._mark = now

    def _forward_start(self, module: torch.nn.Module, args: Any) -> None:
        self._training_forward = module.training
        if module.training:
            self._add("data")

    def _forward_end(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if self._training_forward:
            self._add("forward")

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
        self._handles = [model.register_forward_pre_hook(self._forward_start),
                         model.register_forward_hook(self._forward_end),
                         inner.register_step_pre_hook(lambda *_: self._add("backward"))]
        self._mark = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("optimizer")

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("evaluation")

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._add("checkpoint")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        for handle in self._handles:
            handle.remove()

    def to_json(self) -> dict[str, float]:
        return {part: round(seconds, 3) for part, seconds in self.seconds.items()}


def _log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # dev scoring decodes like predict and evaluate (Viterbi over log-probabilities), not by each word's argmax
    return torch.log_softmax(logits.float(), dim=-1)


class _QuietProgress(ProgressCallback):
    """HF's progress bar without the dict it writes under the bar at every log step."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        return


class _PhaseLog(TrainerCallback):
    """Writes the Trainer's logs and the per-epoch realised share; forces a final evaluation and checkpoint."""

    def __init__(self, log: _JsonlLog, phase: str, sampler: _PlanSampler, counter: _ShareCounter) -> None:
        self.log, self.phase, self.sampler, self.counter = log, phase, sampler, counter
        self.logged_epochs: set[int] = set()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        self.log.write({"event": "log", "phase": self.phase, "step": state.global_step, "epoch": state.epoch, **logs})

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # a step budget can end between step-interval evaluations: evaluate and checkpoint the last step too
        # (with per-epoch evaluation the Trainer already ends the cut-short epoch with one)
        is_between = args.eval_strategy == "steps" and state.global_step % args.eval_steps
        if state.global_step >= state.max_steps and is_between:
            control.should_evaluate = True
            control.should_save = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log_share(self.sampler.epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log_share(self.sampler.epoch)  # a phase stopped early or by step budget ends mid-epoch

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        counts = self.counter.summed()
        if distributed.is_main() and checkpoint.is_dir():
            counts.save(checkpoint / SHARE_FILE)

    def log_share(self, epoch: int) -> None:
        counts = self.counter.summed().epochs.get(epoch)
        if counts is None or epoch in self.logged_epochs:
            return
        self.logged_epochs.add(epoch)
        share = _epoch_share(self.sampler.plan, epoch, counts)
        self.log.write({"event": "share", "phase": self.phase, **share.to_json()})


def _epoch_share(plan: SamplingPlan, epoch: int, counts: dict[str, int]) -> EpochShare:
    """One epoch's realised distilled share next to the plan's expected share for the records seen."""
    seen = counts["gold"] + counts["distilled"]
    return EpochShare(
        epoch=epoch,
        gold=counts["gold"],
        distilled=counts["distilled"],
        realised_share=counts["distilled"] / seen if seen else 0.0,
        expected_share=expected_share(plan, epoch, seen),
    )


def _last_checkpoint(phase_dir: Path) -> Path | None:
    """The newest complete checkpoint: the Trainer writes ``trainer_state.json`` last, then we add the counts."""
    complete = [
        path
        for path in phase_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if (path / "trainer_state.json").is_file() and (path / SHARE_FILE).is_file()
        and path.name.rsplit("-", 1)[1].isdigit()
    ]
    return max(complete, key=lambda path: int(path.name.rsplit("-", 1)[1]), default=None)


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


def _labels(cfg: TrainConfig, *pools: Sequence[Record]) -> list[str]:
    seen = {tag for pool in pools for record in pool for tag in record.tags or ()}
    if cfg.labels:
        unknown = sorted(seen - set(cfg.labels))
        if unknown:
            raise TrainError(f"tags {', '.join(unknown)} occur in the data but not in the configured labels")
        return list(cfg.labels)
    base = list(label_list())
    extra_types = sorted({tag[2:] for tag in seen if tag != "O"} - {label[2:] for label in base if label != "O"})
    return base + [f"{prefix}-{name}" for name in extra_types for prefix in ("B", "I")]


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


def _fingerprint(cfg: TrainConfig, *pools: Sequence[Record]) -> str:
    """Config (minus keys that do not change the model) and data: a resumed run must match both."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in cfg.to_json().items() if k not in ("resume", "torch_threads", "logging_steps", "report_to")}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for pool in pools:
        for record in pool:
            digest.update(json.dumps([record.tokens, record.tags]).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _prepare_run_dir(run_dir: Path, fingerprint: str, resume: bool) -> bool:
    """Make ``run_dir`` ready; True when an earlier run with the same fingerprint is being resumed."""
    stamp = run_dir / "run.json"
    earlier = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else None
    # a run made with resume=false kept weights only: there is no optimizer state to continue from
    if run_dir.exists() and (not resume or (earlier is not None and not earlier.get("resumable", True))):
        shutil.rmtree(run_dir)
        earlier = None
    if earlier is not None:
        if earlier["fingerprint"] != fingerprint:
            raise TrainError(
                f"{run_dir.parent} holds a run with another config or other data; resuming it would mix the two. "
                "Choose another output folder, or --set resume=false to start over there"
            )
        return True
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps({"fingerprint": fingerprint, "resumable": resume}))
    return False


def _plan(
    cfg: TrainConfig, phase: Phase, index: int, n_gold: int, n_distilled: int, lengths: Sequence[int]
) -> SamplingPlan:
    gold = range(n_gold) if phase.uses_gold else range(0)
    distilled = range(n_gold, n_gold + n_distilled) if phase.uses_distilled else range(0)
    epoch_size = len(gold) + len(distilled)
    share = None
    if phase.is_blend:
        epoch_size = cfg.blend_epoch_size or epoch_size
        share = schedule_curve(cfg.schedule.kind, **cfg.schedule.params())
    budget = cfg.phase_steps(index)
    total_batches = budget or math.ceil(cfg.phase_epoch_budget(index) * math.ceil(epoch_size / cfg.batch_size))
    return SamplingPlan(
        gold=gold,
        distilled=distilled,
        lengths=lengths,
        batch_size=cfg.batch_size,
        seed=cfg.seed + index,
        epoch_size=epoch_size,
        total_batches=total_batches,
        share=share,
        group_batches=1 if cfg.pack_tokens else cfg.length_group_batches,  # packed batches need no length groups
    )


def _gpu_has_bf16() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _training_args(cfg: TrainConfig, phase_dir: Path, index: int, progress: bool, has_dev: bool) -> TrainingArguments:
    strategy = "steps" if cfg.eval_every_steps else "epoch"
    world = distributed.world_size()
    if cfg.batch_size % world:
        raise TrainError(f"batch_size {cfg.batch_size} does not split evenly over {world} processes")
    return TrainingArguments(
        output_dir=str(phase_dir),
        per_device_train_batch_size=cfg.batch_size // world,  # each rank takes its slice of every global batch
        per_device_eval_batch_size=cfg.eval_batch_size,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_ratio=cfg.warmup_ratio,
        num_train_epochs=cfg.phase_epoch_budget(index),
        max_steps=cfg.phase_steps(index) or -1,
        eval_strategy=strategy if has_dev else "no",
        save_strategy=strategy,
        eval_steps=cfg.eval_every_steps or None,
        save_steps=cfg.eval_every_steps or None,
        save_total_limit=2,  # the best and the latest: enough to resume and to pick the best
        # optimizer, scheduler and RNG state only where a killed run may resume (~0.6 s per MiniLM checkpoint)
        save_only_model=not cfg.resume,
        load_best_model_at_end=has_dev,  # without dev there is no best: the phase ends with its last model
        metric_for_best_model="f1" if has_dev else None,
        greater_is_better=True,
        ddp_find_unused_parameters=False,  # every trainable weight gets a gradient; the search costs a pass
        use_cpu=not torch.cuda.is_available(),  # else HF Trainer ignores torchrun's processes on a CPU-only host
        # mixed precision on a GPU (bf16 where it has it, else fp16 with loss scaling); fp32 on the CPU, where
        # AVX2 has no fast half-precision math
        bf16=_gpu_has_bf16(),
        fp16=torch.cuda.is_available() and not _gpu_has_bf16(),
        logging_steps=cfg.logging_steps,
        **report_arguments(cfg.report_to, phase_dir),
        seed=cfg.seed + index,
        disable_tqdm=not show_bars(progress),
        remove_unused_columns=False,  # keep is_distilled: the collator and compute_loss use it
        dataloader_pin_memory=torch.cuda.is_available(),
    )


@dataclass(frozen=True)
class _Pools:
    """The run's records, checked for what the regimen needs and IOB2-repaired, with the repair counts."""

    gold: list[Record]
    distilled: list[Record]
    dev: list[Record]
    gold_repairs: int
    distilled_repairs: int


@dataclass(frozen=True)
class _Prepared:
    """What every phase shares: tokenizer, labels, features and the dev records (and what featurizing did)."""

    tokenizer: Any
    labels: list[str]
    gold: list[Feature]
    distilled: list[Feature]
    dev: list[Feature]
    dev_records: list[Record]
    stats: dict[str, FeatureStats]  # per pool: gold, distilled, dev


def _words_per_batch(items: Sequence[dict[str, Any]], plan: SamplingPlan, cfg: TrainConfig) -> float:
    """Mean labelled words in one process's batch over the phase's pools: the word-weighted loss's divisor."""
    pool = [*plan.gold, *plan.distilled]
    words = sum(sum(label != -100 for label in items[i]["labels"]) for i in pool)
    return words / len(pool) * cfg.batch_size / distributed.world_size()


@dataclass(frozen=True)
class _PhaseRun:
    """One phase's HF Trainer and the parts of it that the phase's result reads."""

    trainer: _PhaseTrainer
    plan: SamplingPlan
    counter: _ShareCounter
    phase_log: _PhaseLog
    time_split: _TimeSplit


def _phase_run(
    cfg: TrainConfig, phase: Phase, index: int, init: Path, data: _Prepared, phase_dir: Path, log: _JsonlLog,
    progress: bool,
) -> _PhaseRun:
    """The model (from ``init``, with a new head), the phase's sampling plan, callbacks and HF Trainer."""
    set_seed(cfg.seed + index)  # the new classifier head's initial weights
    model, _ = load_classifier(init, data.labels)
    if cfg.freeze_word_embeddings:
        # half of MiniLM-L6's 22.7M weights: no gradient, no AdamW state, no clipping pass over them
        model.get_input_embeddings().weight.requires_grad_(False)
    items = [f.as_item(False) for f in data.gold] + [f.as_item(True) for f in data.distilled]
    plan = _plan(cfg, phase, index, len(data.gold), len(data.distilled), [len(i["input_ids"]) for i in items])
    sampler, counter = _PlanSampler(plan), _ShareCounter()
    phase_log = _PhaseLog(log, phase.name, sampler, counter)
    time_split = _TimeSplit()
    console = ConsoleProgress(phase.name, index, len(regimen_phases(cfg.regimen)), progress and not show_bars(progress))
    callbacks: list[TrainerCallback] = [phase_log, time_split, console]
    has_dev = bool(data.dev)
    if cfg.patience and has_dev:  # without dev nothing can say when to stop: the full budget runs
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
    trainer = _PhaseTrainer(
        model=model,
        args=_training_args(cfg, phase_dir, index, progress, has_dev),
        train_dataset=items,
        eval_dataset=[f.as_item(False) for f in data.dev] if has_dev else None,
        data_collator=_Collator(data.tokenizer),
        train_collator=_Collator(data.tokenizer, cfg.pack_tokens),
        processing_class=data.tokenizer,
        compute_metrics=(_DevScorer(data.dev, data.dev_records, dict(enumerate(data.labels)), cfg.eval_mode)
                         if has_dev else None),
        preprocess_logits_for_metrics=_log_probs if has_dev else None,
        callbacks=callbacks,
        plan_sampler=sampler,
        counter=counter,
        words_per_batch=_words_per_batch(items, plan, cfg) if cfg.word_weighted_loss else 0.0,
    )
    # both print every log dict; train_log.jsonl keeps them, the console gets ConsoleProgress lines (+ a bar on a TTY)
    trainer.remove_callback(PrinterCallback)
    if show_bars(progress):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(_QuietProgress)
    return _PhaseRun(trainer, plan, counter, phase_log, time_split)


def _resume_point(run: _PhaseRun, phase: Phase, phase_dir: Path, log: _JsonlLog) -> Path | None:
    """The phase's last complete checkpoint, with its share counts restored; None: the phase starts afresh."""
    last = _last_checkpoint(phase_dir)
    if last is not None:
        run.counter.load(last / SHARE_FILE)
        # epochs finished before the kill were logged by the killed run
        run.phase_log.logged_epochs.update(range(int(last.name.rsplit("-", 1)[1]) // run.plan.batches_per_epoch))
        log.write({"event": "resume", "phase": phase.name, "checkpoint": last.name})
    return last


def _train_phase(
    cfg: TrainConfig,
    phase: Phase,
    index: int,
    init: Path,
    data: _Prepared,
    phase_dir: Path,
    log: _JsonlLog,
    progress: bool,
) -> PhaseResult:
    """Train one phase (resuming its last checkpoint), save its kept model as ``final``; what the phase measured."""
    run = _phase_run(cfg, phase, index, init, data, phase_dir, log, progress)
    last = _resume_point(run, phase, phase_dir, log)
    started = time.monotonic()
    run.trainer.train(resume_from_checkpoint=str(last) if last is not None else None)
    train_s = time.monotonic() - started
    final = phase_dir / "final"
    run.trainer.save_model(str(final))  # the best dev checkpoint (load_best_model_at_end), else the last model
    counts = run.counter.summed()
    distributed.barrier()  # rank 0 has written the checkpoints and their counts that every rank reads below
    state = run.trainer.state
    eval_s = run.time_split.seconds["evaluation"]
    loop_s = max(train_s - eval_s, 1e-9)
    return PhaseResult(
        name=phase.name,
        steps=state.global_step,
        budget_steps=state.max_steps,
        stopped_early=state.global_step < state.max_steps,
        best_dev_f1=state.best_metric,
        best_step=state.best_global_step,
        final_dir=str(final),
        last_dir=str(_last_checkpoint(phase_dir)),
        train_s=round(train_s, 3),
        eval_s=round(eval_s, 3),
        time_split=run.time_split.to_json(),
        train_tokens=counts.tokens_this_run,
        train_tokens_per_s=counts.tokens_this_run / loop_s,
        epochs=tuple(_epoch_share(run.plan, e, counts.epochs[e]) for e in sorted(counts.epochs)),
    )


def _publish(source: Path, model_dir: Path) -> None:
    """Copy the final model folder into place; a reader never sees half a folder."""
    staging = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("optimizer.pt", "scheduler.pt", "rng_state*",
                                                                   "trainer_state.json", "training_args.bin",
                                                                   SHARE_FILE))
    if model_dir.exists():
        shutil.rmtree(model_dir)
    staging.rename(model_dir)


def _final_model_note(cfg: TrainConfig, has_dev: bool) -> str:
    """What ``model/`` holds, in words, for metrics.json."""
    if not has_dev:
        return "last: no dev set, so no checkpoint selection and no early stopping"
    return "best dev checkpoint of the last phase" if cfg.keep == "best" else "last checkpoint of the last phase"


def _checked_pools(
    phases: Sequence[Phase], gold: Sequence[Record], distilled: Sequence[Record], dev: Sequence[Record]
) -> _Pools:
    """The records, refused when the regimen lacks data or a record lacks tags; IOB2 repaired (dev as given)."""
    _check_data(phases, gold, distilled, dev)
    gold_records, gold_repairs = _repaired(gold, "gold")
    distilled_records, distilled_repairs = _repaired(distilled, "distilled")
    return _Pools(gold_records, distilled_records, list(dev), gold_repairs, distilled_repairs)


def _use_threads(cfg: TrainConfig) -> None:
    """torch's intra-op threads: as configured, or this rank's share of the cores under torchrun."""
    if cfg.torch_threads or distributed.world_size() > 1:
        torch.set_num_threads(distributed.threads_per_rank(cfg.torch_threads))


def _prepare(cfg: TrainConfig, base: Path, labels: list[str], pools: _Pools) -> _Prepared:
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
    return _Prepared(tokenizer, labels, gold_f, distilled_f, dev_f, selection, stats)


def _open_run(cfg: TrainConfig, pools: _Pools, out_dir: Path) -> bool:
    """Make the run folder ready (rank 0; the others wait for it); True when an earlier run is being resumed."""
    resumed = False
    if distributed.is_main():
        fingerprint = _fingerprint(cfg, pools.gold, pools.distilled, pools.dev)
        resumed = _prepare_run_dir(out_dir / "checkpoints", fingerprint, cfg.resume)
    distributed.barrier()  # the other ranks start once the run folder is ready
    return resumed


def _phase_model(result: PhaseResult, choice: str) -> Path:
    """The model a phase hands on: its best dev checkpoint (``choice`` "best") or its last one."""
    return Path(result.final_dir if choice == "best" else result.last_dir)


def _run_phase(
    cfg: TrainConfig, phase: Phase, index: int, init: Path, data: _Prepared, out_dir: Path, log: _JsonlLog,
    progress: bool,
) -> PhaseResult:
    """Train one phase from ``init``, or take its result from an earlier run that completed it."""
    phase_dir = out_dir / "checkpoints" / f"phase-{index + 1}-{phase.name}"
    done = phase_dir / PHASE_FILE
    if done.is_file():
        log.write({"event": "phase_skipped", "phase": phase.name, "reason": "complete in an earlier run"})
        return PhaseResult.from_json(json.loads(done.read_text(encoding="utf-8")))
    result = _train_phase(cfg, phase, index, init, data, phase_dir, log, progress)
    if distributed.is_main():
        atomic_write_text(done, json.dumps(result.to_json(), indent=2))
    log.write({"event": "phase_end", "phase": phase.name, "best_dev_f1": result.best_dev_f1, "steps": result.steps})
    return result


def _run_phases(
    cfg: TrainConfig, phases: Sequence[Phase], base: Path, data: _Prepared, out_dir: Path, log: _JsonlLog,
    progress: bool,
) -> list[PhaseResult]:
    """Every phase in order, each starting from the model the one before hands on (``carry_over``)."""
    init, results = base, []
    for index, phase in enumerate(phases):
        result = _run_phase(cfg, phase, index, init, data, out_dir, log, progress)
        results.append(result)
        init = _phase_model(result, cfg.carry_over)
    return results


def _publish_final(cfg: TrainConfig, last: PhaseResult, data: _Prepared, dev: Sequence[Record],
                   model_dir: Path) -> float | None:
    """Publish the last phase's kept model (``keep``) as ``model_dir``; returns its F1 on every dev record."""
    dev_f1_all = last.best_dev_f1
    if distributed.is_main():
        _publish(_phase_model(last, cfg.keep), model_dir)
        if dev and (len(data.dev_records) < len(dev) or cfg.keep == "last"):
            dev_f1_all = evaluate_model(model_dir, dev, mode=cfg.eval_mode, batch_size=cfg.eval_batch_size).f1
    return dev_f1_all


def _metrics(
    cfg: TrainConfig, base: Path, pools: _Pools, data: _Prepared, results: list[PhaseResult],
    dev_f1_all: float | None, resumed: bool, started: float,
) -> TrainMetrics:
    """What the run measured (``metrics.json``)."""
    train_s = sum(r.train_s - r.eval_s for r in results)
    tokens = sum(r.train_tokens for r in results)
    return TrainMetrics(
        regimen=cfg.regimen,
        base_model=str(base),
        best_dev_f1=results[-1].best_dev_f1,  # on the selection records (all dev unless dev_subset)
        dev_f1_all=dev_f1_all,  # the final model on every dev record
        final_model=_final_model_note(cfg, bool(pools.dev)),
        processes=distributed.world_size(),
        dev_selection_records=len(data.dev_records),
        dev_eval_mode=cfg.eval_mode,
        steps=sum(r.steps for r in results),
        wall_s=round(time.monotonic() - started, 3),
        train_tokens_per_s=tokens / train_s if train_s > 0 else None,
        resumed=resumed,
        phases=tuple(results),
        labels=tuple(data.labels),
        data={
            "gold": {**data.stats["gold"].to_json(), "iob2_repairs": pools.gold_repairs},
            "distilled": {**data.stats["distilled"].to_json(), "iob2_repairs": pools.distilled_repairs},
            "dev": data.stats["dev"].to_json(),
        },
        config=cfg.to_json(),
    )


def _write_metrics(out_dir: Path, metrics: TrainMetrics, log: _JsonlLog) -> None:
    """``metrics.json`` (rank 0, atomically: a killed run leaves none) and the log's end event."""
    if distributed.is_main():
        atomic_write_text(out_dir / "metrics.json", json.dumps(metrics.to_json(), indent=2, default=str))
    log.write({"event": "end", "best_dev_f1": metrics.best_dev_f1, "steps": metrics.steps})


def train(
    cfg: TrainConfig,
    gold: Sequence[Record],
    distilled: Sequence[Record],
    dev: Sequence[Record],
    out_dir: Path,
    progress: bool = True,
) -> TrainResult:
    """Train ``cfg.base_model`` with ``cfg.regimen`` and write the model, metrics and log under ``out_dir``.

    Args:
        cfg: the training config (``cfg.gold``/``distilled``/``dev`` are ignored: records come as arguments).
        gold: human-labelled records.
        distilled: LLM-labelled records (IOB2 repaired here; the count goes into the metrics).
        dev: labelled records for best-checkpoint selection and early stopping; none: no selection, no early
            stop, the last model of the full budget.
        out_dir: output folder; rerunning with the same config and data resumes what is there.
        progress: show progress bars on the terminal.

    Returns:
        The model folder, the metrics (also in ``out_dir/metrics.json``) and the log path.

    Raises:
        ModelNotFoundError: the base model is not on disk.
        TrainError: data the regimen needs is missing, unlabelled records, labels outside ``cfg.labels``, or
            ``out_dir`` holds a run of another config.
    """
    started = time.monotonic()
    distributed.init()
    out_dir = Path(out_dir)
    phases = regimen_phases(cfg.regimen)
    pools = _checked_pools(phases, gold, distilled, dev)
    labels = _labels(cfg, pools.gold, pools.distilled, pools.dev)
    base = resolve_base_model(cfg.base_model)
    _use_threads(cfg)
    data = _prepare(cfg, base, labels, pools)
    resumed = _open_run(cfg, pools, out_dir)
    log = _JsonlLog(out_dir / "train_log.jsonl")
    log.write({"event": "start", "regimen": cfg.regimen, "base_model": str(base), "resumed": resumed,
               "gold": len(pools.gold), "distilled": len(pools.distilled), "dev": len(pools.dev)})
    results = _run_phases(cfg, phases, base, data, out_dir, log, progress)
    dev_f1_all = _publish_final(cfg, results[-1], data, pools.dev, out_dir / "model")
    metrics = _metrics(cfg, base, pools, data, results, dev_f1_all, resumed, started)
    _write_metrics(out_dir, metrics, log)
    distributed.barrier()  # every rank returns once the model folder and metrics exist
    return TrainResult(model_dir=out_dir / "model", metrics=metrics, log_path=log.path)
