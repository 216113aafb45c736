"""Training speed and accuracy: our trainer vs Hugging Face Trainer, and both against the box's GEMM ceiling.

Both trainers fine-tune the same base model on the same gold sentences, with the same batch size, learning rate
and epochs, in this one process, alternating (ours, HF, ours, HF, ...) so machine load hits both alike. The script
reports non-pad training tokens per second for each, their ratio, and the share of the forward-plus-backward
ceiling: the GEMM rate this box measures in the same run (MiniLM-L6's own matrix shapes) divided by 63.6 MFLOP per
token (3 x 21.2 MFLOP: the forward pass's linear layers, and twice that for the backward pass). Each trained model
is then scored on the same held-out slice (word-level seqeval F1, default mode).

Ours includes what it adds on purpose: length-grouped batches, the share counter, a resumable checkpoint per epoch
(in its loop time) and one dev evaluation per epoch (excluded from its loop time). The HF baseline is run_ner
style: ``truncation=True`` (long sentences lose words), random batches, no evaluation, no checkpoint.

Usage (from the repository root, research data at ../shared/data)::

    python scripts/bench_train.py --sentences 1000 --epochs 2 --repeats 2 --json
    python scripts/bench_train.py --only hf --epochs 10 --learning-rate 1e-4 --batch-size 16 \
        --eval-file ../shared/data/conll2003/valid.txt --eval-sentences 0     # the 10-epoch HF reference
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import offline_ner.hf_offline  # noqa: F401  (before transformers)

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
from offline_ner.train import TrainConfig, evaluate_model, resolve_base_model, train
from offline_ner.train._model import load_tokenizer

CONLL = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"
TRAIN_FLOP_PER_TOKEN = 63.6e6  # MiniLM-L6: 3 x 21.2 MFLOP (forward linear layers; backward is twice the forward)
GEMM_SHAPES = ((384, 384), (384, 1536), (1536, 384))  # (in, out) of MiniLM-L6's attention and feed-forward layers
GEMM_ROWS = 512  # tokens per batch: what a length-grouped batch of 32 CoNLL sentences holds


def gemm_gflops(rounds: int = 5) -> float:
    """The best fp32 GEMM rate (GFLOP/s) of this box on the model's layer shapes, with torch's threads."""
    pairs = [(torch.randn(GEMM_ROWS, n_in), torch.randn(n_in, n_out)) for n_in, n_out in GEMM_SHAPES]
    flop = sum(2 * GEMM_ROWS * a.shape[1] * b.shape[1] for a, b in pairs) * 20
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(20):
            for a, b in pairs:
                torch.mm(a, b)
        best = max(best, flop / (time.perf_counter() - started) / 1e9)
    return best


def run_ours(cfg: TrainConfig, gold: list[Record], dev: list[Record], out: Path) -> tuple[float, Path, dict]:
    """Our trainer: its own tokens/s (non-pad tokens over loop time without evaluation), model folder, time split."""
    result = train(cfg, gold=gold, distilled=[], dev=dev, out_dir=out, progress=False)
    split = dict(result.metrics.phases[-1].time_split)
    return float(result.metrics.train_tokens_per_s or 0.0), result.model_dir, split


def run_hf(cfg: TrainConfig, gold: list[Record], out: Path) -> tuple[float, Path]:
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
    model_dir = out / "model"
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    tokens = sum(len(item["input_ids"]) for item in items) * cfg.epochs
    return tokens / runtime, model_dir


def _head(records: list[Record], n: int) -> list[Record]:
    return records if n <= 0 else records[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=CONLL / "train.txt", help="CoNLL/JSONL gold file")
    parser.add_argument("--sentences", type=int, default=1000, help="gold sentences to train on")
    parser.add_argument("--dev", type=Path, default=CONLL / "valid.txt", help="dev file for our per-epoch eval")
    parser.add_argument("--dev-sentences", type=int, default=200, help="dev sentences for our per-epoch eval")
    parser.add_argument("--eval-file", type=Path, default=CONLL / "test.txt", help="held-out file for F1")
    parser.add_argument("--eval-sentences", type=int, default=1000, help="held-out sentences (0 = all)")
    parser.add_argument("--base-model", default="minilm-l6-uncased")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each; medians are reported")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--only", choices=("both", "ours", "hf"), default="both", help="which trainers to run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override our trainer's config (A/B of an option, e.g. freeze_word_embeddings=true)")
    parser.add_argument("--json", action="store_true", help="print one JSON line (else indented JSON)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    gold = _head(read_records(args.gold), args.sentences)
    dev = _head(read_records(args.dev), args.dev_sentences)
    held_out = _head(read_records(args.eval_file), args.eval_sentences)
    cfg = load_config(None, TrainConfig, overrides=[
        "regimen=gold", f"base_model={args.base_model}", f"batch_size={args.batch_size}",
        f"learning_rate={args.learning_rate}", f"max_length={args.max_length}", f"epochs={args.epochs}",
        "patience=0", f"torch_threads={args.threads}", *args.overrides])
    gemm = [gemm_gflops()]
    ours: list[float] = []
    hf: list[float] = []
    f1: dict[str, float] = {}
    split: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for repeat in range(args.repeats):
            if args.only in ("both", "ours"):
                tok_s, model_dir, split = run_ours(cfg, gold, dev, Path(tmp) / f"ours-{repeat}")
                ours.append(tok_s)
                f1["ours"] = evaluate_model(model_dir, held_out).f1
            if args.only in ("both", "hf"):
                tok_s, model_dir = run_hf(cfg, gold, Path(tmp) / f"hf-{repeat}")
                hf.append(tok_s)
                f1["hf"] = evaluate_model(model_dir, held_out).f1
            gemm.append(gemm_gflops())
            print(f"repeat {repeat + 1}: ours {ours[-1] if ours else 0:.0f} tok/s, HF {hf[-1] if hf else 0:.0f} "
                  f"tok/s, GEMM {gemm[-1]:.0f} GFLOP/s, F1 {f1}", file=sys.stderr)
    gflops = max(gemm)
    ceiling = gflops * 1e9 / TRAIN_FLOP_PER_TOKEN
    ours_tok_s = statistics.median(ours) if ours else None
    hf_tok_s = statistics.median(hf) if hf else None
    summary = {
        "base_model": args.base_model, "sentences": len(gold), "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "epochs": args.epochs, "threads": torch.get_num_threads(),
        "repeats": args.repeats, "overrides": args.overrides, "eval_file": str(args.eval_file), "eval_sentences": len(held_out),
        "ours_tok_s": ours_tok_s, "hf_tok_s": hf_tok_s,
        "ratio_vs_hf": ours_tok_s / hf_tok_s if ours_tok_s and hf_tok_s else None,
        "gemm_gflops": gflops, "gemm_runs": gemm, "ceiling_tok_s": ceiling,
        "ceiling_share": ours_tok_s / ceiling if ours_tok_s else None,
        "ours_test_f1": f1.get("ours"), "hf_test_f1": f1.get("hf"),
        "ours_runs": ours, "hf_runs": hf, "ours_time_split_s": split,
    }
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
