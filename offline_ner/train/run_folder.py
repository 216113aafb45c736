"""The run folder: its fingerprint and resume points, the phases already done, the published model, metrics.json.

Rank 0 writes; every write is atomic (a killed run leaves the last complete state). A rerun with the same config
and data resumes what is there; another config or other data in the same folder is refused. Not here: training.

Example::

    resumed = open_run(cfg, pools, out_dir)
    last = resume_point(phase_dir, counter, log, "blend")   # None: the phase starts afresh
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from offline_ner._fs import atomic_write_text
from offline_ner.contracts import PhaseResult, TrainMetrics
from offline_ner.data import Record
from offline_ner.errors import TrainError
from offline_ner.train import distributed
from offline_ner.train.config import TrainConfig
from offline_ner.train.evaluation import evaluate_model
from offline_ner.train.run_data import Pools, Prepared
from offline_ner.train.run_log import SHARE_FILE, RunLog, ShareCounter

PHASE_FILE = "phase.json"  # written when a phase is complete; a rerun skips that phase


def open_run(cfg: TrainConfig, pools: Pools, out_dir: Path) -> bool:
    """Make the run folder ready (rank 0; the others wait for it); True when an earlier run is being resumed."""
    resumed = False
    if distributed.is_main():
        fingerprint = _fingerprint(cfg, pools.gold, pools.distilled, pools.dev)
        resumed = _prepare_run_dir(out_dir / "checkpoints", fingerprint, cfg.resume)
    distributed.barrier()  # the other ranks start once the run folder is ready
    return resumed


def phase_dir(out_dir: Path, index: int, name: str) -> Path:
    """Where phase ``index`` (0-based) keeps its checkpoints."""
    return out_dir / "checkpoints" / f"phase-{index + 1}-{name}"


def completed_phase(phase_folder: Path) -> PhaseResult | None:
    """The result of a phase an earlier run completed; None when it still has to run."""
    done = phase_folder / PHASE_FILE
    return PhaseResult.from_json(json.loads(done.read_text(encoding="utf-8"))) if done.is_file() else None


def mark_phase_done(phase_folder: Path, result: PhaseResult) -> None:
    """Record the phase as complete (rank 0): a rerun takes this result instead of training it again."""
    if distributed.is_main():
        atomic_write_text(phase_folder / PHASE_FILE, json.dumps(result.to_json(), indent=2))


def last_checkpoint(phase_folder: Path) -> Path | None:
    """The newest complete checkpoint: the Trainer writes ``trainer_state.json`` last, then we add the counts."""
    complete = [
        path
        for path in phase_folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if (path / "trainer_state.json").is_file() and (path / SHARE_FILE).is_file()
        and path.name.rsplit("-", 1)[1].isdigit()
    ]
    return max(complete, key=lambda path: int(path.name.rsplit("-", 1)[1]), default=None)


def resume_point(phase_folder: Path, counter: ShareCounter, log: RunLog, phase: str) -> Path | None:
    """The phase's last complete checkpoint, with its share counts restored; None: the phase starts afresh."""
    last = last_checkpoint(phase_folder)
    if last is not None:
        counter.load(last / SHARE_FILE)
        log.write({"event": "resume", "phase": phase, "checkpoint": last.name})
    return last


def checkpoint_step(checkpoint: Path) -> int:
    """The global step a checkpoint folder was saved at."""
    return int(checkpoint.name.rsplit("-", 1)[1])


def phase_model(result: PhaseResult, choice: str) -> Path:
    """The model a phase hands on: its best dev checkpoint (``choice`` "best") or its last one."""
    return Path(result.final_dir if choice == "best" else result.last_dir)


def publish_final(cfg: TrainConfig, last: PhaseResult, data: Prepared, dev: Sequence[Record],
                  model_dir: Path) -> float | None:
    """Publish the last phase's kept model (``keep``) as ``model_dir``; returns its F1 on every dev record."""
    dev_f1_all = last.best_dev_f1
    if distributed.is_main():
        _publish(phase_model(last, cfg.keep), model_dir)
        if dev and (len(data.dev_records) < len(dev) or cfg.keep == "last"):
            dev_f1_all = evaluate_model(model_dir, dev, mode=cfg.eval_mode, batch_size=cfg.eval_batch_size,
                                        ).f1
    return dev_f1_all


def run_metrics(
    cfg: TrainConfig, base: Path, pools: Pools, data: Prepared, results: list[PhaseResult],
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


def write_metrics(out_dir: Path, metrics: TrainMetrics, log: RunLog) -> None:
    """``metrics.json`` (rank 0, atomically: a killed run leaves none) and the log's end event."""
    if distributed.is_main():
        atomic_write_text(out_dir / "metrics.json", json.dumps(metrics.to_json(), indent=2, default=str))
    log.write({"event": "end", "best_dev_f1": metrics.best_dev_f1, "steps": metrics.steps})


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
