"""k-fold gold-only teachers: train them, and read their word-level probabilities on the distilled records.

Teacher i trains with the teacher arm's recipe on the gold subset without fold i (see
:mod:`offline_ner.experiment.selection` for who judges which sentence). Every fold's probabilities on all the
distilled records are cached as ``fold-<i>.npz`` under ``out_dir/teachers/<teacher cell>-k<folds>-<hash>/``
(the hash covers the teacher's recipe, the folds and the distilled records), so the selection arms of one seed
and gold size share one set of teachers, a stopped grid resumes between folds, and the fold models themselves
are deleted once their probabilities are on disk.

Example::

    view = fold_teacher_view(teacher, gold, distilled, dev, folds=5, cache_dir=out_dir / "teachers")
    view.tags()      # per distilled record, the teachers' IOB2 tags
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from offline_ner._fs import atomic_write_bytes
from offline_ner.data import Record
from offline_ner.data.teacher_view import TeacherView
from offline_ner.errors import TrainError
from offline_ner.experiment.grid import Cell, cell_train_config, fingerprint
from offline_ner.experiment.selection import combine_folds, fold_assignment, judging_folds


def _save(path: Path, labels: Sequence[str], probs: Sequence[np.ndarray]) -> None:
    buffer = io.BytesIO()
    lengths = np.array([len(p) for p in probs], dtype=np.int64)
    flat = np.concatenate(probs) if probs else np.zeros((0, len(labels)), dtype=np.float32)
    np.savez_compressed(buffer, probs=flat, lengths=lengths, labels=np.array(json.dumps(list(labels))))
    atomic_write_bytes(path, buffer.getvalue())


def _load(path: Path) -> tuple[tuple[str, ...], list[np.ndarray]]:
    with np.load(path) as data:
        labels = tuple(json.loads(str(data["labels"])))
        bounds = np.cumsum(data["lengths"])[:-1]
        return labels, list(np.split(data["probs"], bounds)) if len(data["lengths"]) else []


def _fold_file(folder: Path, fold: int) -> Path:
    """Fold ``fold``'s (0-based) cached probabilities."""
    return folder / f"fold-{fold + 1}.npz"


def _cache_folder(teacher: Cell, gold: Sequence[Record], distilled: Sequence[Record], folds: int,
                  cache_dir: Path) -> tuple[Path, list[int]]:
    """Where ``teacher``'s fold probabilities on ``distilled`` are cached, and the fold of each gold record."""
    try:
        fold_of = fold_assignment(gold, folds, teacher.seed)
    except ValueError as err:
        raise TrainError(f"{teacher.cell_id}: {err}") from err
    digest = fingerprint({"teacher": teacher.fingerprint, "folds": folds,
                          "distilled": [[r.id, list(r.tokens)] for r in distilled]})
    return cache_dir / f"{teacher.cell_id}-k{folds}-{digest}", fold_of


def _view(folder: Path, folds: int, distilled: Sequence[Record], gold: Sequence[Record],
          fold_of: Sequence[int]) -> TeacherView:
    per_fold, labels = [], None
    for fold in range(folds):
        fold_labels, probs = _load(_fold_file(folder, fold))
        if labels is not None and fold_labels != labels:
            raise TrainError(f"{folder}: fold teachers disagree on the label set ({labels} vs {fold_labels})")
        labels = fold_labels
        per_fold.append(probs)
    return TeacherView(labels or (), combine_folds(per_fold, judging_folds(distilled, gold, fold_of)))


def cached_fold_teacher_view(teacher: Cell, gold: Sequence[Record], distilled: Sequence[Record], folds: int,
                             cache_dir: Path) -> TeacherView | None:
    """The fold teachers' view where every fold is already cached (nothing is trained), else None."""
    folder, fold_of = _cache_folder(teacher, gold, distilled, folds, cache_dir)
    if not all(_fold_file(folder, fold).is_file() for fold in range(folds)):
        return None
    return _view(folder, folds, distilled, gold, fold_of)


def fold_teacher_view(
    teacher: Cell,
    gold: Sequence[Record],
    distilled: Sequence[Record],
    dev: Sequence[Record],
    folds: int,
    cache_dir: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> TeacherView:
    """The fold teachers' probabilities for every distilled record (out-of-fold where it is also a gold sentence),
    training the folds not cached yet.

    Raises:
        TrainError: too few gold sentences for the folds, or fold teachers with different label sets.
    """
    from offline_ner.train import predict_word_probs, train

    folder, fold_of = _cache_folder(teacher, gold, distilled, folds, cache_dir)
    train_cfg = cell_train_config(teacher)
    for fold in range(folds):
        path = _fold_file(folder, fold)
        if not path.is_file():
            log(f"[experiment] teacher {teacher.arm} fold {fold + 1}/{folds} ({teacher.cell_id})")
            run_dir = folder / f"fold-{fold + 1}"
            kept = [record for record, f in zip(gold, fold_of) if f != fold]
            result = train(train_cfg, gold=kept, distilled=[], dev=list(dev), out_dir=run_dir, progress=progress)
            _save(path, *predict_word_probs(result.model_dir, distilled, train_cfg.eval_batch_size,
                                            train_cfg.max_length))
            shutil.rmtree(run_dir)  # the probabilities are all later arms need
    return _view(folder, folds, distilled, gold, fold_of)


def model_teacher_view(teacher: Cell, model_dir: Path, records: Sequence[Record], cache_dir: Path,
                       batch_size: int, max_length: int) -> TeacherView:
    """One trained teacher's probabilities on ``records``, cached under ``cache_dir`` (the review arms of one seed
    share them: ranking at every depth reads one pass of the model)."""
    from offline_ner.train import predict_word_probs

    digest = fingerprint({"teacher": teacher.fingerprint, "records": [[r.id, list(r.tokens)] for r in records]})
    path = cache_dir / f"{teacher.cell_id}-model-{digest}.npz"
    if not path.is_file():
        _save(path, *predict_word_probs(model_dir, records, batch_size, max_length))
    labels, probs = _load(path)
    return TeacherView(labels, probs)
