"""Benchmark: how long the CLI takes to reject a bad config or bad data, next to importing torch + transformers.

Each case runs ``offline-ner ...`` in a fresh child process (so nothing is cached in the interpreter, only in
the OS page cache) and reports the median wall time, the exit code and whether torch was imported before the
error. The reference row imports torch and transformers' Trainer, the cost every case must avoid. The goal
(docs/benchmarks.md): a misspelt config key fails in under 2 s.

Usage::

    python scripts/bench_errors.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# runs the CLI, then says on stderr whether torch was loaded by the time it exited
CHILD = """
import atexit, sys
atexit.register(lambda: print("TORCH_IMPORTED=" + str("torch" in sys.modules), file=sys.stderr))
from offline_ner.cli.main import main
main(sys.argv[1:])
"""
REFERENCE = "import offline_ner.hf_offline, torch; from transformers import Trainer"


def cases(tmp: Path) -> dict[str, list[str]]:
    """Case name -> CLI arguments; every case must fail with a config (3) or data (4) error."""
    bad = tmp / "bad.conll"
    bad.write_text("EU B-ORG\nrejects NOT-A-TAG\n", encoding="utf-8")
    missing = str(tmp / "missing.conll")
    out = str(tmp / "run")
    return {
        "train: misspelt key (--set epochz=3)": ["train", "--config", "gold", "--set", "epochz=3", "--out", out],
        "train: ill-typed value (batch_size=many)": ["train", "--config", "gold", "--set", "batch_size=many",
                                                     "--out", out],
        "train: missing data file": ["train", "--config", "gold", "--gold", missing, "--dev", missing, "--out", out],
        "train: malformed CoNLL": ["train", "--config", "gold", "--gold", str(bad), "--dev", str(bad), "--out", out],
        "evaluate: missing data file": ["evaluate", "--model", str(tmp), "--data", missing],
        "experiment: misspelt key (--set seedz=[1])": ["experiment", "--config", "experiments/paper", "--set",
                                                       "seedz=[1]"],
    }


def _run(argv: list[str]) -> tuple[float, int, bool | None]:
    started = time.perf_counter()
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - started
    flags = [line for line in proc.stderr.splitlines() if line.startswith("TORCH_IMPORTED=")]
    return seconds, proc.returncode, (flags[-1].endswith("True") if flags else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per case; the median is reported.")
    parser.add_argument("--json", action="store_true", help="Print one JSON document instead of a table.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        named = {name: [sys.executable, "-c", CHILD, *argv] for name, argv in cases(Path(tmp)).items()}
        named["reference: import torch + transformers.Trainer"] = [sys.executable, "-c", REFERENCE]
        for name, argv in named.items():
            runs = [_run(argv) for _ in range(args.repeat)]
            rows.append({"case": name, "median_s": round(statistics.median(r[0] for r in runs), 3),
                         "exit_code": runs[-1][1], "torch_imported": runs[-1][2]})
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"repeat": args.repeat, "load_average_1min": load, "rows": rows}, indent=2))
        return
    print(f"{'case':<48} {'median s':>9} {'exit':>5}  torch imported   (load average {load:.1f})")
    for row in rows:
        print(f"{row['case']:<48} {row['median_s']:>9.2f} {row['exit_code']:>5}  {row['torch_imported']}")


if __name__ == "__main__":
    main()
