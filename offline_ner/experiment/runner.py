"""Run an experiment's grid: train and evaluate each unfinished cell, append its row, then write the report.

Resumable: a cell whose fingerprint already has a row is skipped, so rerunning the same command after a kill
(or after adding seeds or arms) trains only what is missing. A run killed mid-cell restarts that cell; the
trainer's own checkpoint resume picks up inside it. Each row records F1 beside optimizer steps and wall time.

Example::

    outcome = run_experiment(load_experiment("experiments/paper"))
    print(outcome.table_path.read_text())
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.data import Record
from offline_ner.data.lines import excerpt
from offline_ner.errors import DataError, TrainError
from offline_ner.experiment.config import FOLD_KINDS, ExperimentConfig, needs_teacher
from offline_ner.experiment.grid import Cell, cell_train_config, expand_grid, fingerprint, teacher_cell
from offline_ner.experiment.pools import BundleResolver, ExperimentData, read_source
from offline_ner.experiment.report import (
    csv_text,
    markdown_table,
    parse_runs_csv,
    runs_csv,
    selection_csv,
    selection_table,
    summarise,
)
from offline_ner.experiment.results import ResultStore
from offline_ner.experiment.review_report import base_gold_size, review_lines, review_table
from offline_ner.experiment.selection import apply_selection, selection_report
from offline_ner.experiment.significance import BASELINE_ARM, UPPER_BOUND_ARM, comparison_table, sentence_counts
from offline_ner.experiment.teachers import fold_teacher_view, model_teacher_view
from offline_ner.review import RANDOM, REVIEW_KEY, apply_review, random_order, rank_records
from offline_ner.train.features import NO_LOSS_KEY

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ExperimentOutcome:
    """What a call did and where the report files are."""

    out_dir: Path
    results_path: Path
    table_path: Path
    csv_path: Path
    plot_paths: tuple[Path, ...]
    ran: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir), "results": str(self.results_path), "table": str(self.table_path),
            "csv": str(self.csv_path), "plots": [str(p) for p in self.plot_paths], "ran": list(self.ran),
            "skipped": list(self.skipped), "pending": list(self.pending),
        }


def run_cell(cell: Cell, cells: Sequence[Cell], data: ExperimentData, finished: dict[str, dict[str, Any]],
             run_dir: Path, *, progress: bool = True, log: Log = _stderr) -> dict[str, Any]:
    """Train and test one cell; returns its result row (the caller stores it).

    A selection's report (what it kept, masked or relabelled per type) goes into the row and, as JSON, into
    ``<out_dir>/selection/<cell id>.json`` (``out_dir`` = two levels above ``run_dir``).
    """
    from offline_ner.train import gold_tags, predict_tags, score_tags, train
    from offline_ner.train.regimens import regimen_phases

    gold = data.gold_subset(cell.gold_size, cell.seed)
    uses_distilled = any(phase.uses_distilled for phase in regimen_phases(cell.regimen))
    distilled = list(data.distilled[cell.distilled]) if uses_distilled else []
    n_offered = len(distilled)
    out_dir = run_dir.parent.parent
    what_selected = None
    if cell.selection is not None:
        offered = distilled
        distilled = _select(cell, cells, data, finished, gold, offered, out_dir, progress=progress, log=log)
        what_selected = {"kind": cell.selection.kind, **selection_report(offered, distilled)}
        atomic_write_text(out_dir / "selection" / f"{cell.cell_id}.json", json.dumps(what_selected, indent=2) + "\n")
        if not distilled:
            raise TrainError(f"{cell.cell_id}: selection {cell.selection.kind} kept none of the {n_offered} "
                             "distilled sentences; loosen its threshold or train the teacher longer")
        if cell.selection.kind == "review" and cell.selection.review_into == "gold":
            gold = gold + [r for r in distilled if REVIEW_KEY in r.provenance]
            distilled = [r for r in distilled if REVIEW_KEY not in r.provenance]
        _restart_if_data_changed(run_dir, distilled)
    train_cfg = cell_train_config(cell)
    started = time.perf_counter()
    result = train(train_cfg, gold=gold, distilled=distilled, dev=list(data.dev), out_dir=run_dir,
                   progress=progress)
    wall_s = time.perf_counter() - started
    started = time.perf_counter()
    test = list(data.test)
    predicted = predict_tags(result.model_dir, test)
    report = score_tags(gold_tags(test), predicted)
    test_s = time.perf_counter() - started
    # the test tags themselves, for paired significance tests between arms after the models are deleted
    atomic_write_text(predictions_path(out_dir, cell.cell_id), json.dumps([list(tags) for tags in predicted]) + "\n")
    metrics = result.metrics
    return {
        "cell_id": cell.cell_id, "fingerprint": cell.fingerprint, "arm": cell.arm, "label": cell.label,
        "regimen": cell.regimen, "schedule": dict(cell.schedule), "distilled_source": cell.distilled,
        "selection": None if cell.selection is None else cell.selection.__dict__,
        "selection_report": what_selected,
        "gold_size": cell.gold_size, "seed": cell.seed, "train": dict(cell.train),
        "n_gold": len(gold), "n_distilled_offered": n_offered, "n_distilled": len(distilled),
        "steps": metrics.steps, "wall_s": round(wall_s, 1),
        "test_eval_s": round(test_s, 1), "dev_f1": metrics.best_dev_f1,
        "test": {"f1": report.f1, "precision": report.precision, "recall": report.recall,
                 "per_type_f1": {t: v["f1"] if isinstance(v, dict) else v for t, v in report.per_type.items()}},
        # relative to out_dir, so a grid resumed from another working directory still finds its teachers
        "model_dir": os.path.relpath(result.model_dir, out_dir),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def predictions_path(out_dir: Path, cell_id: str) -> Path:
    """Where a cell's predicted test tags are kept (one JSON list of tag lists, in test order)."""
    return out_dir / "predictions" / f"{cell_id}.json"


def _test_counts(cfg: ExperimentConfig, rows: Sequence[dict[str, Any]], out_dir: Path,
                 resolve_bundle: BundleResolver | None) -> dict[str, Any]:
    """Per-sentence entity counts of every row whose test tags were kept (the test set is read only if any were)."""
    paths = {row["cell_id"]: predictions_path(out_dir, row["cell_id"]) for row in rows}
    paths = {cell_id: path for cell_id, path in paths.items() if path.is_file()}
    if not paths:
        return {}
    gold = [list(r.tags or ()) for r in read_source(cfg.test, resolve_bundle)]
    return {cell_id: sentence_counts(gold, json.loads(path.read_text(encoding="utf-8")))
            for cell_id, path in paths.items()}


def _select(cell: Cell, cells: Sequence[Cell], data: ExperimentData, finished: dict[str, dict[str, Any]],
            gold: Sequence[Record], distilled: list[Record], out_dir: Path, *, progress: bool,
            log: Log) -> list[Record]:
    """The distilled records ``cell``'s student trains on (see :mod:`offline_ner.experiment.selection`)."""
    from offline_ner.train import predict_tags

    selection = cell.selection
    if selection is None:
        return distilled
    if selection.kind == "review":
        return _review(cell, cells, data, finished, distilled, out_dir)
    teacher_tags, view = None, None
    if selection.kind == "agreement":
        teacher_tags = predict_tags(_teacher_model(cell, cells, finished, out_dir), distilled)  # gold-only, same seed
    elif selection.kind in FOLD_KINDS:
        view = fold_teacher_view(teacher_cell(cell, cells), gold, distilled, data.dev, selection.folds,
                                 out_dir / "teachers", progress=progress, log=log)
    try:
        return apply_selection(selection, distilled, teacher_tags=teacher_tags, view=view)
    except ValueError as err:
        raise DataError(f"{cell.cell_id}: {err}") from err


def _teacher_model(cell: Cell, cells: Sequence[Cell], finished: dict[str, dict[str, Any]], out_dir: Path) -> Path:
    """The model folder of ``cell``'s teacher run (kept by the runner for the arms that read it)."""
    if cell.selection is None:
        raise ValueError(f"cell {cell.cell_id} has no selection")
    teacher = finished.get(teacher_cell(cell, cells).fingerprint)
    teacher_dir = out_dir / teacher["model_dir"] if teacher and teacher.get("model_dir") else None
    if teacher_dir is None or not teacher_dir.is_dir():
        raise TrainError(f"{cell.cell_id}: the teacher model of arm {cell.selection.teacher!r} is missing; "
                         "rerun with its results row removed (or keep_models: true)")
    return teacher_dir


def _review(cell: Cell, cells: Sequence[Cell], data: ExperimentData, finished: dict[str, dict[str, Any]],
            distilled: list[Record], out_dir: Path) -> list[Record]:
    """Simulated review: the top of the cell's ranking gets the reviewer source's labels (the same sentences).

    The ranking is kept as ``<out_dir>/review/<cell id>.jsonl`` (id, score, reason; reviewed ones first), so the
    label quality of any depth can be measured after the run.
    """
    selection = cell.selection
    if selection is None:
        raise ValueError(f"cell {cell.cell_id} has no selection")
    if selection.ranking == RANDOM:
        ranking = random_order(distilled, cell.seed)
    else:
        train_cfg = cell_train_config(cell)
        view = model_teacher_view(teacher_cell(cell, cells), _teacher_model(cell, cells, finished, out_dir),
                                  distilled, out_dir / "teachers", train_cfg.eval_batch_size, train_cfg.max_length)
        ranking = rank_records(distilled, view, selection.ranking)
    atomic_write_text(out_dir / "review" / f"{cell.cell_id}.jsonl",
                      "".join(json.dumps(dataclasses.asdict(s), ensure_ascii=False) + "\n" for s in ranking))
    reviewed = {r.id: r for r in data.distilled[selection.reviewer]}
    try:
        return apply_review(distilled, reviewed, ranking[: selection.reviewed], reviewer=selection.reviewer)
    except ValueError as err:
        raise DataError(f"{cell.cell_id}: {err}") from err


def _restart_if_data_changed(run_dir: Path, distilled: Sequence[Record]) -> None:
    """Start ``run_dir`` afresh when the selected records (masks included) differ from those it was trained on.

    The trainer resumes a run folder when config, tokens and tags match; a token mask is not in its fingerprint,
    so a changed teacher could otherwise resume a run made with another mask.
    """
    digest = fingerprint({"records": [[r.id, list(r.tags or ()), list(r.provenance.get(NO_LOSS_KEY, ()))]
                                      for r in distilled]})
    stamp = run_dir / "selected_data.sha256"
    if run_dir.exists() and (not stamp.is_file() or stamp.read_text().strip() != digest):
        shutil.rmtree(run_dir)
    atomic_write_text(stamp, digest + "\n")


def write_report(cfg: ExperimentConfig, cells: Sequence[Cell], rows: Sequence[dict[str, Any]], out_dir: Path,
                 plots_dir: Path | None = None,
                 resolve_bundle: BundleResolver | None = None) -> tuple[Path, Path, tuple[Path, ...]]:
    """The table (Markdown), CSV, every run's own row (``runs.csv``) and PNG plots for the current grid's cells;
    with selection arms, also ``selection.md`` and ``selection.csv`` (what each kept, masked or relabelled per
    entity type); where runs kept their test tags, ``significance.md`` (each arm against gold-only: paired
    bootstrap, share of the perfect-label gain)."""
    from offline_ner.experiment.plots import plot_f1_by_arm, plot_f1_vs_gold_size, plot_schedules

    current = {c.fingerprint for c in cells}
    rank = {arm.name: i for i, arm in enumerate(cfg.arms)}  # the table follows the config's arm order
    summaries = summarise(sorted((r for r in rows if r["fingerprint"] in current), key=lambda r: rank[r["arm"]]))
    table_path, csv_path = out_dir / "results.md", out_dir / "results.csv"
    atomic_write_text(table_path, markdown_table(summaries))
    atomic_write_text(csv_path, csv_text(summaries))
    current_rows = [r for r in rows if r["fingerprint"] in current]
    atomic_write_text(out_dir / "runs.csv", runs_csv(sorted(current_rows, key=lambda r: rank[r["arm"]])))
    selected = selection_table(current_rows)
    if selected:  # what each selection arm kept, masked or relabelled, per type
        atomic_write_text(out_dir / "selection.md", selected)
        atomic_write_text(out_dir / "selection.csv", selection_csv(current_rows))
    counts = _test_counts(cfg, current_rows, out_dir, resolve_bundle)
    compared = comparison_table(current_rows, counts)
    if compared:
        atomic_write_text(out_dir / "significance.md", compared)
    plots_dir = plots_dir or out_dir
    plots: list[Path] = []
    reviewed = review_table(current_rows, counts)
    if reviewed:  # review arms: F1 per K for ranked, random and new-gold, ranked vs random bootstrapped
        atomic_write_text(out_dir / "review.md", reviewed)
        plots.append(_plot_review(current_rows, plots_dir / "f1_vs_reviewed.png"))
    if summaries:
        plots.append(plot_f1_by_arm(summaries, plots_dir / "f1_by_arm.png"))
        by_size = plot_f1_vs_gold_size(summaries, plots_dir / "f1_vs_gold_size.png")
        if by_size is not None:
            plots.append(by_size)
    blends = {c.label: c.schedule for c in cells if c.regimen == "blend"}
    if blends:
        plots.append(plot_schedules(blends, plots_dir / "schedules.png"))
    return table_path, csv_path, tuple(plots)


def _plot_review(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    from offline_ner.experiment.plots import plot_f1_vs_reviewed

    base = base_gold_size(rows)
    references = {}
    for arm, name in ((BASELINE_ARM, "gold-only"), (UPPER_BOUND_ARM, "every LLM label corrected")):
        found = [r["test"]["f1"] for r in rows if r["arm"] == arm and r["gold_size"] == base]
        if found:
            references[f"{name}, gold = {base}"] = sum(found) / len(found)
    return plot_f1_vs_reviewed(review_lines(rows), path, references)


def import_runs_csv(cfg: ExperimentConfig, path: Path) -> int:
    """Add the rows of a published ``runs.csv`` to ``cfg``'s results file; returns how many were new.

    For a grid whose ``results.jsonl`` is lost but whose raw rows survive: the runner then trains only the cells
    the file lacks, and ``--report-only`` rebuilds the tables, CSVs and plots over every row.

    Raises:
        DataError: the file is not a runs.csv, or a row is not a cell of ``cfg``'s grid (another config, or
            another version of its recipe: the fingerprints differ).
    """
    cells = {c.fingerprint: c for c in expand_grid(cfg)}
    rows = parse_runs_csv(_utf8_text(Path(path)), str(path))
    for line, row in enumerate(rows, start=2):
        cell = cells.get(row["fingerprint"])
        what = f"row {row['arm'][:80]} gold={str(row['gold_size'])[:20]} seed={row['seed']}"
        if cell is None or (cell.arm, cell.gold_size, cell.seed) != (row["arm"], row["gold_size"], row["seed"]):
            raise DataError(f"{what} is not a cell of {cfg.name!r} (fingerprint {excerpt(row['fingerprint'])}): "
                            "another config or recipe made it", path=path, line=line)
        if (cell.label, cell.regimen) != (row["label"], row["regimen"]):  # the table shows them: never foreign text
            raise DataError(f"{what}: label {excerpt(row['label'])} and regimen {excerpt(row['regimen'])} are not "
                            f"the cell's ({cell.label!r}, {cell.regimen!r})", path=path, line=line)
        row["cell_id"] = cell.cell_id
    store = ResultStore(Path(cfg.out_dir) / "results.jsonl")
    finished = store.finished()
    new = [row for row in rows if row["fingerprint"] not in finished]
    if new:
        store.extend(new)
    return len(new)


def _utf8_text(path: Path) -> str:
    """A runs.csv as text; bytes that are not UTF-8 are a DataError naming the line."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", path=path) from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError("not valid UTF-8; re-encode the file as UTF-8", path=path,
                        line=raw[: err.start].count(b"\n") + 1) from err


def _reads_teacher_model(cell: Cell) -> bool:
    """Whether ``cell`` loads its teacher run's model (which must then be kept and have run first)."""
    return needs_teacher(cell.selection) and cell.selection is not None and cell.selection.kind in ("agreement", "review")


def run_experiment(cfg: ExperimentConfig, *, resolve_bundle: BundleResolver | None = None,
                   only: Collection[str] = (), report_only: bool = False, progress: bool = True,
                   plots_dir: Path | None = None, log: Log = _stderr) -> ExperimentOutcome:
    """Run every unfinished cell (of the arms in ``only``, when given), then write the report.

    Raises:
        ConfigError: a bad grid (e.g. a selection without its teacher run).
        DataError: a data source cannot be read.
        TrainError: training failed (the rows of cells finished before stay in the results file).
    """
    out_dir = Path(cfg.out_dir)
    cells = expand_grid(cfg)
    store = ResultStore(out_dir / "results.jsonl")
    finished = store.finished()
    todo = [] if report_only else [c for c in cells if c.fingerprint not in finished and (not only or c.arm in only)]
    # models other cells load (agreement and review teachers); fold teachers keep only their probabilities
    teachers = {teacher_cell(c, cells).fingerprint for c in cells if _reads_teacher_model(c)}
    ran, skipped = [], [c.cell_id for c in cells if c.fingerprint in finished]
    log(f"[experiment] {cfg.name}: {len(cells)} cells, {len(skipped)} finished, {len(todo)} to run -> {out_dir}")
    data = ExperimentData.load(cfg, resolve_bundle) if todo else None
    for number, cell in enumerate(todo, start=1):
        if _reads_teacher_model(cell) and teacher_cell(cell, cells).fingerprint not in finished:
            log(f"[experiment] skip {cell.cell_id}: its teacher has not run (not in --only?)")
            continue
        log(f"[experiment] cell {number}/{len(todo)}: {cell.cell_id}")
        if data is None:
            raise RuntimeError("data is loaded whenever cells are to run")
        run_dir = out_dir / "runs" / cell.cell_id
        row = run_cell(cell, cells, data, finished, run_dir, progress=progress, log=log)
        if not cfg.keep_models and cell.fingerprint not in teachers:
            shutil.rmtree(run_dir)  # ~90 MB per MiniLM run; only selection teachers are needed later
            row["model_dir"] = None
        store.append(row)
        finished[cell.fingerprint] = row
        ran.append(cell.cell_id)
        log(f"[experiment] done {cell.cell_id}: test F1 {row['test']['f1']:.3f}, {row['steps']} steps, "
            f"{row['wall_s']:.0f} s")
    table_path, csv_path, plots = write_report(cfg, cells, store.rows(), out_dir, plots_dir, resolve_bundle)
    pending = [c.cell_id for c in cells if c.fingerprint not in finished]
    return ExperimentOutcome(out_dir, store.path, table_path, csv_path, plots, tuple(ran), tuple(skipped),
                             tuple(pending))
