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

The rooms around this loop: ``run_data.py`` (records checked, labels, features), ``run_folder.py`` (fingerprint,
resume points, publishing, metrics.json), ``run_log.py`` (train_log.jsonl, the share counter), ``hf_adapters.py``
(sampler, collator, Trainer subclass, dev scorer) and ``callbacks.py``. Their imports run one way::

    trainer ──► callbacks ──► hf_adapters ──► run_log ◄── run_folder ──► run_data
       └──────────────────────────────────────────────────────┴─────────────┘   (trainer imports every room)

Not here: reading files or bundles (the CLI does that), export, inference.

Example::

    result = train(cfg, gold=gold, distilled=distilled, dev=dev, out_dir=Path("runs/simple-mix"))
    result.metrics.best_dev_f1, result.model_dir
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
import torch
from transformers import (
    EarlyStoppingCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from offline_ner.contracts import PhaseResult, TrainMetrics
from offline_ner.data import Record
from offline_ner.errors import TrainError
from offline_ner.train import distributed
from offline_ner.train._model import load_classifier
from offline_ner.train.base_model import resolve_base_model
from offline_ner.train.callbacks import PhaseLog, QuietProgress, TimeSplit
from offline_ner.train.config import TrainConfig
from offline_ner.train.console import ConsoleProgress, report_arguments, show_bars
from offline_ner.train.hf_adapters import Collator, DevScorer, PhaseTrainer, PlanSampler, log_probs
from offline_ner.train.regimens import Phase, regimen_phases
from offline_ner.train.run_data import Prepared, checked_pools, prepare_features, run_labels
from offline_ner.train.run_folder import (
    checkpoint_step,
    completed_phase,
    last_checkpoint,
    mark_phase_done,
    open_run,
    phase_dir,
    phase_model,
    publish_final,
    resume_point,
    run_metrics,
    write_metrics,
)
from offline_ner.train.run_log import RunLog, ShareCounter, epoch_share
from offline_ner.train.sampler import SamplingPlan
from offline_ner.train.schedules import schedule_curve


@dataclass(frozen=True)
class TrainResult:
    """Where the trained model is, and what the run measured (``metrics.json`` is ``metrics.to_json()``)."""

    model_dir: Path
    metrics: TrainMetrics
    log_path: Path


@dataclass(frozen=True)
class _Run:
    """What every phase of one run shares: the config, the prepared data, the run folder, its log, the console."""

    cfg: TrainConfig
    data: Prepared
    out_dir: Path
    log: RunLog
    progress: bool


@dataclass(frozen=True)
class _Budget:
    """One phase's budget, read from the config once and handed to the sampling plan and the Trainer alike."""

    steps: int  # 0: ``epochs`` decides
    epochs: float

    @classmethod
    def of_phase(cls, cfg: TrainConfig, index: int) -> _Budget:
        return cls(steps=cfg.phase_steps(index), epochs=cfg.phase_epoch_budget(index))


def _plan(
    cfg: TrainConfig, phase: Phase, index: int, budget: _Budget, n_gold: int, n_distilled: int,
    lengths: Sequence[int],
) -> SamplingPlan:
    gold = range(n_gold) if phase.uses_gold else range(0)
    distilled = range(n_gold, n_gold + n_distilled) if phase.uses_distilled else range(0)
    epoch_size = len(gold) + len(distilled)
    share = None
    if phase.is_blend:
        epoch_size = cfg.blend_epoch_size or epoch_size
        share = schedule_curve(cfg.schedule.kind, **cfg.schedule.params())
    total_batches = budget.steps or math.ceil(budget.epochs * math.ceil(epoch_size / cfg.batch_size))
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


def _training_args(
    cfg: TrainConfig, phase_folder: Path, index: int, budget: _Budget, progress: bool, has_dev: bool
) -> TrainingArguments:
    strategy = "steps" if cfg.eval_every_steps else "epoch"
    world = distributed.world_size()
    if cfg.batch_size % world:
        raise TrainError(f"batch_size {cfg.batch_size} does not split evenly over {world} processes")
    return TrainingArguments(
        output_dir=str(phase_folder),
        per_device_train_batch_size=cfg.batch_size // world,  # each rank takes its slice of every global batch
        per_device_eval_batch_size=cfg.eval_batch_size,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_ratio=cfg.warmup_ratio,
        num_train_epochs=budget.epochs,
        max_steps=budget.steps or -1,
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
        **report_arguments(cfg.report_to, phase_folder),
        seed=cfg.seed + index,
        disable_tqdm=not show_bars(progress),
        remove_unused_columns=False,  # keep is_distilled: the collator and compute_loss use it
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _words_per_batch(items: Sequence[dict[str, Any]], plan: SamplingPlan, cfg: TrainConfig) -> float:
    """Mean labelled words in one process's batch over the phase's pools: the word-weighted loss's divisor."""
    pool = [*plan.gold, *plan.distilled]
    words = sum(sum(label != -100 for label in items[i]["labels"]) for i in pool)
    return words / len(pool) * cfg.batch_size / distributed.world_size()


@dataclass(frozen=True)
class _PhaseRun:
    """One phase's HF Trainer and the parts of it that the phase's result reads."""

    trainer: PhaseTrainer
    plan: SamplingPlan
    counter: ShareCounter
    phase_log: PhaseLog
    time_split: TimeSplit


def _phase_run(run: _Run, phase: Phase, index: int, init: Path, phase_folder: Path) -> _PhaseRun:
    """The model (from ``init``, with a new head), the phase's sampling plan, callbacks and HF Trainer."""
    cfg, data = run.cfg, run.data
    set_seed(cfg.seed + index)  # the new classifier head's initial weights
    model, _ = load_classifier(init, data.labels)
    if cfg.freeze_word_embeddings:
        # half of MiniLM-L6's 22.7M weights: no gradient, no AdamW state, no clipping pass over them
        model.get_input_embeddings().weight.requires_grad_(False)
    items = [f.as_item(False) for f in data.gold] + [f.as_item(True) for f in data.distilled]
    budget = _Budget.of_phase(cfg, index)
    plan = _plan(cfg, phase, index, budget, len(data.gold), len(data.distilled), [len(i["input_ids"]) for i in items])
    sampler, counter = PlanSampler(plan), ShareCounter()
    phase_log = PhaseLog(run.log, phase.name, sampler, counter)
    time_split = TimeSplit()
    console = ConsoleProgress(phase.name, index, len(regimen_phases(cfg.regimen)),
                              run.progress and not show_bars(run.progress))
    callbacks: list[TrainerCallback] = [phase_log, time_split, console]
    has_dev = bool(data.dev)
    if cfg.patience and has_dev:  # without dev nothing can say when to stop: the full budget runs
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
    trainer = PhaseTrainer(
        model=model,
        args=_training_args(cfg, phase_folder, index, budget, run.progress, has_dev),
        train_dataset=items,
        eval_dataset=[f.as_item(False) for f in data.dev] if has_dev else None,
        data_collator=Collator(data.tokenizer),
        train_collator=Collator(data.tokenizer, cfg.pack_tokens),
        processing_class=data.tokenizer,
        compute_metrics=(DevScorer(data.dev, data.dev_records, dict(enumerate(data.labels)), cfg.eval_mode)
                         if has_dev else None),
        preprocess_logits_for_metrics=log_probs if has_dev else None,
        callbacks=callbacks,
        plan_sampler=sampler,
        counter=counter,
        words_per_batch=_words_per_batch(items, plan, cfg) if cfg.word_weighted_loss else 0.0,
    )
    # both print every log dict; train_log.jsonl keeps them, the console gets ConsoleProgress lines (+ a bar on a TTY)
    trainer.remove_callback(PrinterCallback)
    if show_bars(run.progress):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(QuietProgress)
    return _PhaseRun(trainer, plan, counter, phase_log, time_split)


def _train_phase(run: _Run, phase: Phase, index: int, init: Path, phase_folder: Path) -> PhaseResult:
    """Train one phase (resuming its last checkpoint), save its kept model as ``final``; what the phase measured."""
    phase_run = _phase_run(run, phase, index, init, phase_folder)
    last = resume_point(phase_folder, phase_run.counter, run.log, phase.name)
    if last is not None:  # epochs finished before the kill were logged by the killed run
        phase_run.phase_log.logged_epochs.update(range(checkpoint_step(last) // phase_run.plan.batches_per_epoch))
    started = time.monotonic()
    phase_run.trainer.train(resume_from_checkpoint=str(last) if last is not None else None)
    train_s = time.monotonic() - started
    final = phase_folder / "final"
    phase_run.trainer.save_model(str(final))  # the best dev checkpoint (load_best_model_at_end), else the last model
    counts = phase_run.counter.summed()
    distributed.barrier()  # rank 0 has written the checkpoints and their counts that every rank reads below
    state = phase_run.trainer.state
    eval_s = phase_run.time_split.seconds["evaluation"]
    loop_s = max(train_s - eval_s, 1e-9)
    return PhaseResult(
        name=phase.name,
        steps=state.global_step,
        budget_steps=state.max_steps,
        stopped_early=state.global_step < state.max_steps,
        best_dev_f1=state.best_metric,
        best_step=state.best_global_step,
        final_dir=str(final),
        last_dir=str(last_checkpoint(phase_folder)),
        train_s=round(train_s, 3),
        eval_s=round(eval_s, 3),
        time_split=phase_run.time_split.to_json(),
        train_tokens=counts.tokens_this_run,
        train_tokens_per_s=counts.tokens_this_run / loop_s,
        epochs=tuple(epoch_share(phase_run.plan, e, counts.epochs[e]) for e in sorted(counts.epochs)),
    )


def _run_phase(run: _Run, phase: Phase, index: int, init: Path) -> PhaseResult:
    """Train one phase from ``init``, or take its result from an earlier run that completed it."""
    phase_folder = phase_dir(run.out_dir, index, phase.name)
    done = completed_phase(phase_folder)
    if done is not None:
        run.log.write({"event": "phase_skipped", "phase": phase.name, "reason": "complete in an earlier run"})
        return done
    result = _train_phase(run, phase, index, init, phase_folder)
    mark_phase_done(phase_folder, result)
    run.log.write({"event": "phase_end", "phase": phase.name, "best_dev_f1": result.best_dev_f1,
                   "steps": result.steps})
    return result


def _run_phases(run: _Run, phases: Sequence[Phase], base: Path) -> list[PhaseResult]:
    """Every phase in order, each starting from the model the one before hands on (``carry_over``)."""
    init, results = base, []
    for index, phase in enumerate(phases):
        result = _run_phase(run, phase, index, init)
        results.append(result)
        init = phase_model(result, run.cfg.carry_over)
    return results


def _use_threads(cfg: TrainConfig) -> None:
    """torch's intra-op threads: as configured, or this rank's share of the cores under torchrun."""
    if cfg.torch_threads or distributed.world_size() > 1:
        torch.set_num_threads(distributed.threads_per_rank(cfg.torch_threads))


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
    pools = checked_pools(phases, gold, distilled, dev)
    labels = run_labels(cfg, pools.gold, pools.distilled, pools.dev)
    base = resolve_base_model(cfg.base_model)
    _use_threads(cfg)
    data = prepare_features(cfg, base, labels, pools)
    resumed = open_run(cfg, pools, out_dir)
    log = RunLog(out_dir / "train_log.jsonl")
    log.write({"event": "start", "regimen": cfg.regimen, "base_model": str(base), "resumed": resumed,
               "gold": len(pools.gold), "distilled": len(pools.distilled), "dev": len(pools.dev)})
    results = _run_phases(_Run(cfg, data, out_dir, log, progress), phases, base)
    dev_f1_all = publish_final(cfg, results[-1], data, pools.dev, out_dir / "model")
    metrics = run_metrics(cfg, base, pools, data, results, dev_f1_all, resumed, started)
    write_metrics(out_dir, metrics, log)
    distributed.barrier()  # every rank returns once the model folder and metrics exist
    return TrainResult(model_dir=out_dir / "model", metrics=metrics, log_path=log.path)
