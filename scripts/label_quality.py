"""How clean each selection leaves the distilled labels: entity F1 of what a student would train on, against the
gold labels of the same sentences (the upper-bound source), beside what the student then scored.

    python scripts/label_quality.py --config experiments/converged --out-dir runs/converged --seed 1 --json

For every selection arm of the experiment at ``--gold-size`` and ``--seed`` (plus the LLM's own labels, and the
plain fold-teacher tags as a reference), the script applies the selection to the distilled records exactly as the
grid does (``apply_selection``) and scores the kept sentences' tags with the trainer's seqeval scorer. Words a
selection masks (no loss) are scored as they are, so a mask's label F1 barely moves: ``tokens_masked`` says how
many words the student will not learn from. The fold teachers'
probabilities come from the grid's cache (``<out-dir>/teachers``); an arm whose teachers are not cached yet is
skipped with a note (training them is the grid's job, not this script's). ``agreement`` needs its teacher model's
tags and is skipped too. Run it from the repository root (the config names ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)
from offline_ner.experiment import ExperimentData, expand_grid, load_experiment
from offline_ner.experiment.config import FOLD_KINDS
from offline_ner.experiment.grid import teacher_cell
from offline_ner.experiment.selection import apply_selection
from offline_ner.experiment.teachers import cached_fold_teacher_view
from offline_ner.train.evaluation import EvalReport, score_tags
from offline_ner.train.features import NO_LOSS_KEY


def _scores(report: EvalReport) -> dict[str, Any]:
    return {"label_f1": round(report.f1, 4), "precision": round(report.precision, 4),
            "recall": round(report.recall, 4),
            "per_type_f1": {t: round(s["f1"], 4) for t, s in sorted(report.per_type.items())}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/converged")
    parser.add_argument("--out-dir", type=Path, required=True, help="the grid's output folder (its teachers/ cache)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gold-size", type=int, default=1000)
    parser.add_argument("--gold-labels", default="gold_labels", help="the distilled source with gold labels")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()

    cfg = load_experiment(args.config)
    data = ExperimentData.load(cfg)
    truth = {r.id: r.tags or () for r in data.distilled[args.gold_labels]}
    grid = expand_grid(cfg)
    cells = [c for c in grid if c.seed == args.seed and c.gold_size == args.gold_size]
    gold = data.gold_subset(args.gold_size, args.seed)
    rows: dict[str, Any] = {}

    def score(name: str, records: list[Any], masked: int = 0) -> None:
        report = score_tags([truth[r.id] for r in records], [r.tags or () for r in records])
        rows[name] = {**_scores(report), "sentences": len(records), "tokens_masked": masked}

    score("llm (no selection)", list(data.distilled["llm"]))
    teacher_shown = False
    for cell in cells:
        selection = cell.selection
        if selection is None or selection.kind not in FOLD_KINDS or cell.distilled != "llm":
            continue
        distilled = list(data.distilled[cell.distilled])
        view = cached_fold_teacher_view(teacher_cell(cell, grid), gold, distilled, selection.folds,
                                        args.out_dir / "teachers")
        if view is None:
            print(f"[label_quality] {cell.arm}: fold teachers not cached yet, skipped", file=sys.stderr)
            continue
        if not teacher_shown:
            teacher = [r.with_tags(tags) for r, tags in zip(distilled, view.tags())]
            score("fold teachers' tags", teacher)
            teacher_shown = True
        kept = apply_selection(selection, distilled, view=view)
        score(cell.arm, kept, sum(len(r.provenance.get(NO_LOSS_KEY, ())) for r in kept))

    if args.json:
        print(json.dumps({"seed": args.seed, "gold_size": args.gold_size, "arms": rows}, indent=2))
        return 0
    types = sorted({t for row in rows.values() for t in row["per_type_f1"]})
    print("| labels | sentences | tokens masked | label F1 | P | R | " + " | ".join(types) + " |")
    print("|---" * (6 + len(types)) + "|")
    for name, row in rows.items():
        print(f"| {name} | {row['sentences']} | {row['tokens_masked']} | {row['label_f1']:.3f} | "
              f"{row['precision']:.3f} | {row['recall']:.3f} | "
              + " | ".join(f"{row['per_type_f1'].get(t, 0.0):.2f}" for t in types) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
