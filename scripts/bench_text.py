"""Raw text against gold tokens: the F1 one model loses when it reads running text through the text tokenizer
(sentence splitting and CoNLL-style words, ``offline_ner.data.text``), and what that tokenisation costs.

    python scripts/bench_text.py --model runs/model --work /tmp/bench_text    # exports the model first (int8 too)
    python scripts/bench_text.py --onnx runs/onnx --json                      # an existing export

Each labelled CoNLL file is tagged twice by the same export:
- gold tokens: the file's own tokens, one sentence per record (``NerEngine.predict_tokens``);
- raw text: the tokens detokenised back into running text, ``--doc-sentences`` consecutive sentences per
  document (a sentence follows on the same line after sentence-final punctuation, else on a new line, as
  headlines, datelines and result tables do), through ``NerEngine.predict``. Each entity's character span is
  mapped back onto the gold tokens (a token overlapping the span is inside it: ``offline_ner.demo.score``).
Both are scored by seqeval (entity level). ``gap_<domain>`` = F1(gold tokens) - F1(raw text), on the 0-1 scale.
``tokenize_share`` is the fraction of raw-text ``predict`` time spent on tokenisation, with the tokenizer's load
counted as a user pays it once per ``predict`` run: (load + splitting text into sentences and words) / (load +
the engine's raw-text ``predict`` time, all domains). The load (``tokenizer_load_s``, wall, and
``tokenizer_load_cpu_s``) is measured in a fresh interpreter that has already imported what ``predict`` imports
before its first document (numpy, onnxruntime), so that nothing this script loaded earlier hides it, with the
tokenizer's rule tables cached (``~/.cache/offline_ner/text-tokenizer``, written by the first run after an install
or a spaCy upgrade): what every later run pays. That first run imports spaCy to read the tables; it is measured
too, with an empty cache folder (``tokenizer_load_cold_s``, ``tokenize_share_cold``). ``tokenize_share_engine``
is the share without the load. ``tokenize_chars_per_s`` is the splitting alone on the CoNLL documents.

Domains: ``conll`` is CoNLL-2003 test (../shared/data); the default second domain, ``wikistyle``, is
``scripts/data/wikistyle.conll``: 39 Wikipedia-style sentences (80 entities) the team wrote and labelled itself,
CoNLL-tokenised by hand, with abbreviations, initials, decades, scores and possessives (see BENCHMARKS.md). Add
others with ``--domain NAME=FILE``. Outputs (the export) go under --work, never into the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from offline_ner.data import Record, iter_tokenized_sentences, read_conll, text_tokenizer
from offline_ner.errors import OfflineNerError
from offline_ner.infer import InferConfig, NerEngine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONLL = ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"
DEFAULT_DOMAINS = {"wikistyle": ROOT / "scripts" / "data" / "wikistyle.conll"}
# detokenisation, the inverse of CoNLL's tokenisation for English news
NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "'s", "'S", "n't", "N'T",
                             "'m", "'re", "'ve", "'d", "'ll"})
NO_SPACE_AFTER = frozenset({"(", "[", "{", "$"})
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def detokenize(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Running text from CoNLL tokens, and each token's character span in it; double quotes alternate open/close."""
    text, offsets, quote_open, glue = "", [], False, True
    for token in tokens:
        attach = glue or token in NO_SPACE_BEFORE
        if token == '"':
            attach = attach or quote_open
            quote_open = not quote_open
        if text and not attach:
            text += " "
        offsets.append((len(text), len(text) + len(token)))
        text += token
        glue = token in NO_SPACE_AFTER or (token == '"' and quote_open)
    return text, offsets


def documents(records: list[Record], per_document: int) -> list[tuple[str, list[Record]]]:
    """Documents of consecutive sentences, each with its gold records carrying offsets into the document."""
    docs = []
    for first in range(0, len(records), per_document):
        text, placed = "", []
        for record in records[first : first + per_document]:
            sentence, offsets = detokenize(record.tokens)
            if text:
                text += " " if SENTENCE_END.search(text) else "\n"
            base = len(text)
            text += sentence
            placed.append(Record(record.id, record.tokens, record.tags, offsets=tuple((a + base, b + base)
                                                                                       for a, b in offsets)))
        docs.append((text, placed))
    return docs


def measure_domain(engine: NerEngine, records: list[Record], per_document: int) -> dict[str, Any]:
    """F1 from gold tokens and from raw text for one labelled file, and the sentence counts."""
    from offline_ner.demo.score import tags_for_entities  # seqeval and its imports: seconds, only when scoring
    from offline_ner.train.evaluation import score_tags

    gold = [list(record.tags or ()) for record in records]
    from_tokens = [list(tags) for tags in engine.predict_tokens([record.tokens for record in records])]
    docs = documents(records, per_document)
    before = dataclasses.replace(engine.stats)
    from_text: list[list[str]] = []
    for (_, placed), entities in zip(docs, engine.predict(text for text, _ in docs)):
        rows = [entity.to_json() for entity in entities]
        from_text += [list(tags_for_entities(record, rows, 0)) for record in placed]
    f1_tokens, f1_text = score_tags(gold, from_tokens).f1, score_tags(gold, from_text).f1
    return {
        "sentences": len(records), "documents": len(docs), "raw_sentences": engine.stats.sentences - before.sentences,
        "f1_gold_tokens": round(f1_tokens, 4), "f1_raw_text": round(f1_text, 4), "gap": round(f1_tokens - f1_text, 4),
        "predict_s": round(engine.stats.seconds - before.seconds, 3),
        "tokenize_s": round(engine.stats.tokenize_seconds - before.tokenize_seconds, 3),
    }


def tokenize_throughput(records: list[Record], per_document: int) -> dict[str, float]:
    """Sentence splitting and tokenisation alone over the documents (the tokenizer's cache is warm by now)."""
    texts = [text for text, _ in documents(records, per_document)]
    started = time.perf_counter()
    words = sum(len(sentence) for sentences in iter_tokenized_sentences(texts) for sentence in sentences)
    seconds = time.perf_counter() - started
    return {"tokenize_chars_per_s": round(sum(map(len, texts)) / seconds), "tokenize_words_per_s": round(words / seconds)}


LOAD_PROBE = """
import json, time
import numpy, onnxruntime
wall, cpu = time.perf_counter(), time.process_time()
from offline_ner.data import text_tokenizer
text_tokenizer()
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


def tokenizer_load(cache: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds a fresh interpreter takes to load the text tokenizer and run it once; ``cache``: its
    user cache folder (default: this user's, where the tables are cached by now)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if cache is not None:
        env["XDG_CACHE_HOME"] = cache
    done = subprocess.run([sys.executable, "-c", LOAD_PROBE], check=True, capture_output=True, text=True, env=env)
    wall, cpu = json.loads(done.stdout.splitlines()[-1])
    return wall, cpu


def export_model(model_dir: Path, work: Path) -> Path:
    """Export a trained model folder to ``work/onnx`` (fp32 and int8), unless an export from it is there."""
    from offline_ner.export import ExportConfig, export_onnx

    out = work / "onnx"
    if (out / "export.json").is_file():
        print(f"reusing export {out}", file=sys.stderr)
        return out
    export_onnx(model_dir, out, ExportConfig(int8=True))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", type=Path, help="An export folder (from `offline-ner export`).")
    source.add_argument("--model", type=Path, help="A trained model folder; exported under --work first.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_text"), help="Where --model is exported.")
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL, help="CoNLL-2003 test file (default: shared).")
    parser.add_argument("--domain", action="append", default=[], metavar="NAME=FILE",
                        help="A second labelled domain (CoNLL file); default wikistyle=scripts/data/wikistyle.conll.")
    parser.add_argument("--doc-sentences", type=int, default=20, help="Sentences per raw-text document.")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                        help="Graph for the CPU; auto: int8 when exported (what predict uses).")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: physical cores).")
    parser.add_argument("--json", action="store_true", help="Print one JSON line instead of a table.")
    args = parser.parse_args(argv)

    domains = dict(DEFAULT_DOMAINS) if not args.domain else {}
    domains.update(dict(item.split("=", 1) for item in args.domain))
    if not args.conll.is_file():
        parser.error(f"{args.conll} not found: CoNLL-2003 test lives in ../shared/data (pass --conll)")
    onnx_dir = args.onnx or export_model(args.model, args.work)
    engine = NerEngine(onnx_dir, InferConfig(device="cpu", precision=args.precision, threads=args.threads))
    text_tokenizer()  # loads the tokenizer here, outside the engine's clock, and caches its tables if need be
    with tempfile.TemporaryDirectory() as empty:
        load_cold_s, _ = tokenizer_load(empty)  # the first run after an install: tables read from spaCy
    load_s, load_cpu_s = tokenizer_load()
    conll = read_conll(args.conll)
    results: dict[str, Any] = {"model": str(onnx_dir), "graph": engine.describe()["model_file"],
                               "doc_sentences": args.doc_sentences, "tokenizer": text_tokenizer()}
    per_domain = {"conll": measure_domain(engine, conll, args.doc_sentences)}
    for name, path in domains.items():
        per_domain[name] = measure_domain(engine, read_conll(Path(path)), args.doc_sentences)
    for name, row in per_domain.items():
        results[f"gap_{name}"] = row["gap"]
    predict_s = sum(row["predict_s"] for row in per_domain.values())
    tokenize_s = sum(row["tokenize_s"] for row in per_domain.values())
    results["tokenize_share"] = round((load_s + tokenize_s) / (load_s + predict_s), 4)
    results["tokenize_share_cold"] = round((load_cold_s + tokenize_s) / (load_cold_s + predict_s), 4)
    results["tokenize_share_engine"] = round(tokenize_s / predict_s, 4)
    results["tokenizer_load_s"] = round(load_s, 3)
    results["tokenizer_load_cpu_s"] = round(load_cpu_s, 3)
    results["tokenizer_load_cold_s"] = round(load_cold_s, 3)
    results.update(tokenize_throughput(conll, args.doc_sentences))
    results["domains"] = per_domain
    results["engine"] = engine.stats.to_json()
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return 0
    print(f"model {onnx_dir} ({results['graph']}), tokenizer {results['tokenizer']}")
    print(f"{'domain':<12}{'sentences':>10}{'raw sent.':>10}{'F1 tokens':>11}{'F1 text':>9}{'gap':>8}")
    for name, row in per_domain.items():
        print(f"{name:<12}{row['sentences']:>10}{row['raw_sentences']:>10}{row['f1_gold_tokens']:>11.4f}"
              f"{row['f1_raw_text']:>9.4f}{row['gap']:>8.4f}")
    print(f"tokenisation: {results['tokenize_share']:.1%} of predict time with the tokenizer's load "
          f"({load_s:.2f} s wall, {load_cpu_s:.2f} s CPU, once per run), {results['tokenize_share_engine']:.1%} "
          f"without it; {results['tokenize_chars_per_s']:,} chars/s alone; first run after an install "
          f"{results['tokenize_share_cold']:.1%} (load {load_cold_s:.2f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OfflineNerError as err:  # e.g. an export that records another text tokenizer: re-export it
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
