"""kNN demonstration retrieval: embedding speed, selection time, and what kNN and verification add to the cost.

Embeds the demonstration pool and the inputs with the packaged all-MiniLM-L6-v2 (ONNX, CPU), picks k neighbours
per input, then picks them again from the embedding cache (a journal), as a resumed run does. The cost part plans
the same inputs four ways (zero-shot, the first 3 demonstrations, kNN k demonstrations, kNN plus self-verification)
with the packaged price table and prints the estimates per 1,000 sentences. Nothing is sent anywhere.

    python scripts/bench_knn.py                                   # CoNLL-2003 train as pool, 1,000 test sentences
    python scripts/bench_knn.py --inputs-limit 200 --k 8 --model gpt-4o-mini --json
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from offline_ner.annotate import AnnotateConfig, Inputs, Journal, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.encoder import MiniLMEncoder, default_cache_dir
from offline_ner.annotate.estimate import estimate_cost
from offline_ner.annotate.prompts import select_demonstrations
from offline_ner.annotate.retrieve import knn_demonstrations
from offline_ner.data import read_records

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conll2003"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=Path, default=DATA / "train.txt", help="labelled demonstration pool")
    parser.add_argument("--inputs", type=Path, default=DATA / "test.txt", help="sentences to annotate")
    parser.add_argument("--inputs-limit", type=int, default=1000)
    parser.add_argument("--pool-limit", type=int, help="first N pool sentences only (embedding is CPU-bound)")
    parser.add_argument("--k", type=int, default=8, help="kNN demonstrations per input")
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--encoder-cache", type=Path, default=default_cache_dir())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    encoder = MiniLMEncoder(cache_dir=args.encoder_cache)
    load_s = time.perf_counter() - started
    pool = read_records(args.pool)[: args.pool_limit]
    loaded = load_inputs([args.inputs])
    inputs = Inputs(tuple(itertools.islice(loaded.records, args.inputs_limit)), loaded.gold, loaded.digests)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.sqlite")
        started = time.perf_counter()
        chosen = knn_demonstrations(inputs.records, pool, args.k, encoder, journal)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        again = knn_demonstrations(inputs.records, pool, args.k, encoder, journal)
        cached_s = time.perf_counter() - started
        journal.close()
    assert again == chosen, "kNN choice changed between a cold and a cached run"
    print(f"kNN: {cold_s:.1f} s cold, {cached_s:.1f} s from the cache", file=sys.stderr, flush=True)
    texts = len({" ".join(r.tokens) for r in (*pool, *inputs.records)})

    template, prices = load_template("fewshot_conll"), load_prices(None)
    cfg = AnnotateConfig(model=args.model)
    per_1000 = 1000 / len(inputs.records)
    variants = {
        "zero-shot": plan_run(inputs, cfg, template),
        "first 3 demonstrations": plan_run(inputs, cfg, template, select_demonstrations(pool, 3)),
        f"kNN {args.k} demonstrations": plan_run(
            inputs, dataclasses.replace(cfg, demos_select="knn", n_demos=args.k), template, demos_by_record=chosen
        ),
        f"kNN {args.k} + verification": plan_run(
            inputs,
            dataclasses.replace(cfg, demos_select="knn", n_demos=args.k, verify=True),
            template,
            demos_by_record=chosen,
        ),
    }
    costs = {}
    for name, plan in variants.items():
        estimate = estimate_cost(plan, prices)
        costs[name] = {
            "requests": round(estimate.requests * per_1000),
            "input_tokens": round(estimate.input_tokens * per_1000),
            "expected_usd": round((estimate.expected_cost_usd or 0.0) * per_1000, 4),
            "max_usd": round((estimate.max_cost_usd or 0.0) * per_1000, 4),
        }
    result = {
        "pool": len(pool),
        "inputs": len(inputs.records),
        "unique_texts_embedded": texts,
        "encoder_load_s": round(load_s, 2),
        "knn_cold_s": round(cold_s, 2),
        "embeddings_per_s": round(texts / cold_s, 1),
        "knn_from_cache_s": round(cached_s, 2),
        "model": args.model,
        "prices_as_of": prices.as_of,
        "per_1000_sentences": costs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"encoder load {load_s:.1f} s; {texts} texts embedded + {args.k}-NN chosen in {cold_s:.1f} s "
          f"({texts / cold_s:.0f} embeddings/s); again from the cache {cached_s:.1f} s")  # fmt: skip
    print(f"per 1,000 sentences with {args.model} (prices as of {prices.as_of}):")
    for name, row in costs.items():
        print(f"  {name:28s} {row['requests']:5d} requests {row['input_tokens']:9d} input tokens "
              f"expected ${row['expected_usd']:.3f}, at most ${row['max_usd']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
