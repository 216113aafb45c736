"""The bare training step, without HF Trainer: what forward, backward and AdamW cost on this box.

A plain PyTorch loop over length-sorted batches of CoNLL train sentences (groups of 16 batches, as the padded
trainer used to cut them) with fused AdamW and gradient clipping, timing forward, backward and the optimizer
separately after a few warm-up steps. It bounds what any trainer can reach here, so bench_train.py's numbers can
be read against it. ``--ddp`` runs under torchrun as DistributedDataParallel (each rank takes every other batch).

Usage (from the repository root, research data at ../shared/data)::

    python scripts/bench_train_step.py --threads 2 --batch-size 16 --steps 50 --json
    python scripts/bench_train_step.py --threads 1 --freeze-word-embeddings --steps 50
    python -m torch.distributed.run --standalone --nproc-per-node 2 scripts/bench_train_step.py \
        --threads 1 --batch-size 8 --ddp --freeze-word-embeddings
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import offline_ner.hf_offline  # noqa: F401  (before transformers)

# isort: split
import torch

from offline_ner.data import label_list, read_records
from offline_ner.train._model import load_classifier, load_tokenizer
from offline_ner.train.base_model import resolve_base_model

CONLL_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "train.txt"
WARMUP_STEPS = 5


def sorted_batches(lengths: list[int], batch_size: int, seed: int = 0) -> list[list[int]]:
    """Shuffled indices cut into groups of 16 batches, each group sorted by length, then cut into batches."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    group = batch_size * 16
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CONLL_TRAIN)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="timed steps, after 5 warm-up steps")
    parser.add_argument("--freeze-word-embeddings", action="store_true")
    parser.add_argument("--ddp", action="store_true", help="run as DDP under torchrun (gloo)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = resolve_base_model("minilm-l6-uncased")
    tokenizer = load_tokenizer(base)
    model, _ = load_classifier(base, list(label_list()))
    if args.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    records = read_records(args.data)[: args.sentences]
    encoded = [tokenizer(list(r.tokens), is_split_into_words=True)["input_ids"] for r in records]
    batches = sorted_batches([len(e) for e in encoded], args.batch_size)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=True)
    model.train()
    if args.ddp:
        torch.distributed.init_process_group("gloo")
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        batches = batches[rank::world]
        model = torch.nn.parallel.DistributedDataParallel(model)
    seconds = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    tokens = 0
    for step, batch in enumerate(batches[: args.steps + WARMUP_STEPS]):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[row, : len(encoded[i])] = 1
        labels = torch.where(mask.bool(), torch.randint(0, 9, ids.shape), torch.full(ids.shape, -100))
        started = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        forward_done = time.perf_counter()
        loss.backward()
        backward_done = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if step >= WARMUP_STEPS:
            seconds["forward"] += forward_done - started
            seconds["backward"] += backward_done - forward_done
            seconds["optimizer"] += time.perf_counter() - backward_done
            tokens += int(mask.sum())
    summary = {"threads": args.threads, "batch_size": args.batch_size, "ddp": args.ddp,
               "rank": int(os.environ.get("RANK", "0")), "freeze_word_embeddings": args.freeze_word_embeddings,
               "tok_s": tokens / sum(seconds.values()), "tokens": tokens,
               "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
