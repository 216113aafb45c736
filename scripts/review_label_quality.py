"""How much of the LLM's label error each review ranking puts in front of a reviewer: for every signal (and the
random order, and an oracle that knew the gold labels: the ceiling), the share of the LLM's entity errors in the
top K sentences, and the label F1 of the distilled set once those K are corrected, against the gold labels of the
same sentences.

    python scripts/review_label_quality.py --config experiments/review --seed 1 --json

It reads the gold-only teacher model of ``--seed`` from the grid's results (the review arms keep it) and its
probabilities from the grid's cache (``<out_dir>/teachers``; computed here once if missing). Nothing is trained.
Run it from the repository root (the config names ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)
from offline_ner.experiment import ExperimentData, expand_grid, load_experiment
from offline_ner.experiment.results import ResultStore
from offline_ner.experiment.teachers import model_teacher_view
from offline_ner.review import (
    SIGNALS,
    ReviewScore,
    apply_review,
    entity_errors,
    label_errors,
    random_order,
    rank_records,
)
from offline_ner.train.config import TrainConfig
from offline_ner.train.evaluation import score_tags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/review")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gold-size", type=int, default=1000)
    parser.add_argument("--teacher", default="gold-only", help="the arm whose model ranks")
    parser.add_argument("--distilled", default="llm")
    parser.add_argument("--gold-labels", default="gold_labels", help="the distilled source with gold labels")
    parser.add_argument("--k", type=int, action="append", help="review depths (default 250 500 1000 2000)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()
    depths = args.k or [250, 500, 1000, 2000]

    cfg = load_experiment(args.config)
    out_dir = Path(cfg.out_dir)
    (teacher,) = [c for c in expand_grid(cfg) if c.arm == args.teacher and c.seed == args.seed
                  and c.gold_size == args.gold_size]
    row = ResultStore(out_dir / "results.jsonl").finished().get(teacher.fingerprint)
    if not row or not row.get("model_dir") or not (out_dir / row["model_dir"]).is_dir():
        print(f"the {teacher.cell_id} model is not on disk yet: run the grid's {args.teacher} arm first",
              file=sys.stderr)
        return 1
    data = ExperimentData.load(cfg)
    llm = list(data.distilled[args.distilled])
    gold = {r.id: r for r in data.distilled[args.gold_labels]}
    defaults = TrainConfig(**{k: v for k, v in cfg.train.items() if k in ("max_length", "eval_batch_size")})
    view = model_teacher_view(teacher, out_dir / row["model_dir"], llm, out_dir / "teachers",
                              defaults.eval_batch_size, defaults.max_length)
    rankings = {signal: rank_records(llm, view, signal) for signal in SIGNALS}
    rankings["random"] = random_order(llm, args.seed)
    # the ceiling: a ranking that knew the gold labels (most entity errors first)
    rankings["oracle"] = sorted((ReviewScore(r.id, float(entity_errors(r, gold[r.id])), "oracle") for r in llm),
                                key=lambda s: -s.score)
    truth = [gold[r.id].tags or () for r in llm]
    result: dict[str, Any] = {"seed": args.seed, "sentences": len(llm),
                              "llm_label_f1": round(score_tags(truth, [r.tags or () for r in llm]).f1, 4),
                              "rankings": {}}
    for name, ranking in rankings.items():
        per_k = {}
        for k in depths:
            errors = label_errors(llm, gold, ranking, k)
            fixed = apply_review(llm, gold, ranking[:k], reviewer=args.gold_labels)
            per_k[k] = {"error_share": round(errors.error_share, 4), "errors": errors.errors_in_reviewed,
                        "wrong_sentences": errors.wrong_sentences_in_reviewed,
                        "label_f1": round(score_tags(truth, [r.tags or () for r in fixed]).f1, 4)}
        result["rankings"][name] = per_k
    errors_total = label_errors(llm, gold, rankings["random"], 0)
    result["errors_total"] = errors_total.errors_total
    result["wrong_sentences_total"] = errors_total.wrong_sentences_total
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"seed {args.seed}: {len(llm)} LLM-labelled sentences, {result['wrong_sentences_total']} with an entity "
          f"error, {result['errors_total']} entity errors; LLM label F1 {result['llm_label_f1']}")
    print("| ranking | " + " | ".join(f"K={k}: errors in top K / label F1" for k in depths) + " |")
    print("|---|" + "---|" * len(depths))
    for name, per_k in result["rankings"].items():
        cells = [f"{v['error_share']:.1%} ({v['wrong_sentences']} wrong sentences) / {v['label_f1']:.3f}"
                 for v in per_k.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
