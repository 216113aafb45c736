"""Training throughput: our trainer vs Hugging Face Trainer run directly, same data, model and batch size.

Both train the same base model on the same gold sentences for the same number of epochs, in this one process,
alternating (ours, HF, ours, HF, ...) so machine load hits both alike; the script prints non-pad training tokens
per second for each and the ratio. Ours includes what it adds on purpose: length-grouped batches, the share
counter, one dev evaluation per epoch (excluded from its loop time) and a resumable checkpoint per epoch
(included). The HF baseline is run_ner-style: ``truncation=True`` (long sentences lose words), random batches,
no evaluation, no checkpoint.

Usage (from the repository root, research data at ../shared/data)::

    python scripts/bench_train.py --sentences 512 --repeats 2
    python scripts/bench_train.py --gold my.conll --base-model /models/bert-base --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import offline_ner.offline  # noqa: F401  (before transformers)

# isort: split
import torch
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from offline_ner.config import load_config
from offline_ner.data import Record, label_list, read_records
from offline_ner.train import TrainConfig, resolve_base_model, train
from offline_ner.train._model import load_tokenizer

DEFAULT_GOLD = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "train.txt"


def run_ours(cfg: TrainConfig, gold: list[Record], dev: list[Record], out: Path) -> float:
    """Our trainer's training tokens/s (its own measure: non-pad tokens over loop time without evaluation)."""
    result = train(cfg, gold=gold, distilled=[], dev=dev, out_dir=out, progress=False)
    return float(result.metrics["train_tokens_per_s"])


def run_hf(cfg: TrainConfig, gold: list[Record], out: Path) -> float:
    """HF Trainer directly, run_ner style; tokens/s = non-pad tokens seen / train_runtime."""
    base = resolve_base_model(cfg.base_model)
    tokenizer = load_tokenizer(base)
    labels = list(label_list())
    label2id = {label: i for i, label in enumerate(labels)}
    encoded = tokenizer([list(r.tokens) for r in gold], is_split_into_words=True, truncation=True,
                        max_length=cfg.max_length)
    items = []
    for i, record in enumerate(gold):
        previous, row = None, []
        for word in encoded.word_ids(i):
            row.append(-100 if word is None or word == previous else label2id[(record.tags or ())[word]])
            previous = word
        items.append({"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
                      "labels": row})
    torch.manual_seed(cfg.seed)
    model = AutoModelForTokenClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=cfg.batch_size,
                             learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                             warmup_ratio=cfg.warmup_ratio, num_train_epochs=cfg.epochs, save_strategy="no",
                             eval_strategy="no", report_to=[], seed=cfg.seed, disable_tqdm=True, logging_steps=10**6,
                             dataloader_pin_memory=False)
    trainer = Trainer(model=model, args=args, train_dataset=items,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    trainer.remove_callback(PrinterCallback)  # keep stdout for the one JSON summary
    started = time.monotonic()
    runtime = trainer.train().metrics.get("train_runtime", time.monotonic() - started)
    tokens = sum(len(item["input_ids"]) for item in items) * cfg.epochs
    return tokens / runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="CoNLL/JSONL gold file")
    parser.add_argument("--sentences", type=int, default=512, help="gold sentences to train on")
    parser.add_argument("--dev-sentences", type=int, default=32, help="dev sentences for our per-epoch eval")
    parser.add_argument("--base-model", default="minilm-l6-uncased")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each; medians are reported")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    records = read_records(args.gold)
    gold, dev = records[: args.sentences], records[args.sentences : args.sentences + args.dev_sentences]
    cfg = load_config(None, TrainConfig, overrides=[
        "regimen=gold", f"base_model={args.base_model}", f"batch_size={args.batch_size}",
        f"max_length={args.max_length}", f"epochs={args.epochs}", f"torch_threads={args.threads}"])
    ours, hf = [], []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for repeat in range(args.repeats):
            ours.append(run_ours(cfg, gold, dev, Path(tmp) / f"ours-{repeat}"))
            hf.append(run_hf(cfg, gold, Path(tmp) / f"hf-{repeat}"))
            print(f"repeat {repeat + 1}: ours {ours[-1]:.0f} tok/s, HF Trainer {hf[-1]:.0f} tok/s", file=sys.stderr)
    summary = {
        "base_model": args.base_model, "sentences": len(gold), "batch_size": args.batch_size,
        "epochs": args.epochs, "threads": torch.get_num_threads(), "repeats": args.repeats,
        "ours_tokens_per_s": statistics.median(ours), "hf_trainer_tokens_per_s": statistics.median(hf),
        "ratio_ours_over_hf": statistics.median(ours) / statistics.median(hf),
        "ours_runs": ours, "hf_runs": hf,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
