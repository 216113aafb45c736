"""Run the demo: every step is a real ``offline-ner`` command in a subprocess, logged with one line per step.

Connected side: generate a signing key, annotate the demo's train sentences and unlabelled articles with an LLM
(the replay server answers with recorded replies of a real small model, SmolLM2-135M-Instruct, unless
``OFFLINE_NER_LLM_BASE_URL`` names a live endpoint), sign the annotation folder into a bundle. Closed side: trust
the key, verify and import the bundle, train MiniLM-L6 with Simple Mix (distilled = the LLM-labelled records,
gold = the demo train set, dev = the demo dev set), export ONNX, predict the held-out articles, score F1.

Everything goes under ``--work-dir`` (default ``demo-out/``), including the trust store and content store, so
the user's own ``~/.config/offline-ner`` is never touched.

Example::

    python -m offline_ner.demo.walkthrough --work-dir demo-out
    OFFLINE_NER_LLM_BASE_URL=http://127.0.0.1:8080/v1 OFFLINE_NER_LLM_MODEL=local python -m offline_ner.demo.walkthrough
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline_ner.demo import demo_dir
from offline_ner.demo.score import score_predictions

# the model the recordings were made with (llama-cpp-python's server, --model_alias set to this name)
RECORDED_MODEL = "SmolLM2-135M-Instruct.Q4_1"
# what shapes every request: the replay server only answers requests identical to the recorded ones
ANNOTATE_ARGS = ("--template", "fewshot_conll", "--n-demos", "3", "--temperature", "0", "--seed", "0",
                 "--max-tokens", "160", "--response-format", "json_object", "--concurrency", "1",
                 "--timeout-s", "120")
STREAM = "demo-llm"
# Simple Mix on 166 distilled + 149 gold sentences, measured over seeds 1-3 (BENCHMARKS.md, "The demo's training"):
# half a distilled epoch (a 135M model's labels, F1 0.14 against gold: more of them hurts), then 4 gold epochs at
# lr 3e-4, about 50 steps of 16. Held-out F1 0.65-0.75, where 8 epochs per phase at 1e-4 gave 0.60-0.62 in 3.7x the
# sentence passes. A 20-second run is rerun, not resumed: its checkpoints keep weights only (resume=false).
TRAIN_ARGS = ("--regimen", "distilled_then_gold", "--base-model", "minilm-l6-uncased", "--set", "phase_epochs=[0.5,4]",
              "--batch-size", "16", "--seed", "1", "--set", "learning_rate=3.0e-4", "--set", "max_length=96",
              "--set", "resume=false")
DEMO_PASSPHRASE = "demo-passphrase-not-secret"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Demo:
    """The work dir, the environment every command runs in, and the per-step timings."""

    work: Path
    env: dict[str, str]
    timings: list[tuple[str, float]] = field(default_factory=list)
    step_count: int = 9

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        number = len(self.timings) + 1
        _say(f"\n[demo] step {number}/{self.step_count}: {title}")
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.timings.append((title, elapsed))
        _say(f"[demo] step {number}/{self.step_count} done in {elapsed:.1f} s")

    def cli(self, *args: str | Path, as_json: bool = False) -> dict[str, Any]:
        """Run ``offline-ner ARGS``; stderr (progress) streams to the terminal; returns the --json document."""
        argv = [sys.executable, "-m", "offline_ner", *map(str, args), *(["--json"] if as_json else [])]
        _say("[demo] $ offline-ner " + " ".join(map(str, args)))
        result = subprocess.run(argv, check=False, env=self.env, stdout=subprocess.PIPE if as_json else None, text=True)
        if result.returncode != 0:
            raise DemoError(f"'offline-ner {args[0]} {args[1] if len(args) > 1 else ''}' exited {result.returncode}")
        return json.loads(result.stdout) if as_json else {}


class DemoError(Exception):
    """A step failed; its command already printed why."""


@contextlib.contextmanager
def _llm_endpoint(demo: Demo, recordings: Path) -> Iterator[tuple[str, str]]:
    """Yield (base_url, model): the live endpoint if configured, else a replay server over the recordings."""
    live = os.environ.get("OFFLINE_NER_LLM_BASE_URL")
    if live:
        model = os.environ.get("OFFLINE_NER_LLM_MODEL", RECORDED_MODEL)
        _say(f"[demo] LLM: LIVE endpoint {live}, model {model} (from OFFLINE_NER_LLM_BASE_URL)")
        yield live, model
        return
    if not recordings.is_file():
        raise DemoError(f"no recorded LLM replies at {recordings} and OFFLINE_NER_LLM_BASE_URL is not set")
    argv = [sys.executable, "-m", "offline_ner", "annotate", "replay", "--recordings", str(recordings), "--port", "0"]
    server = subprocess.Popen(argv, env=demo.env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise DemoError(f"the replay server did not start (it printed {base_url!r})")
        _say(f"[demo] LLM: REPLAY of recorded {RECORDED_MODEL} replies from {recordings.name}, served at {base_url}")
        yield base_url, RECORDED_MODEL
    finally:
        server.terminate()
        server.wait(timeout=10)


def annotate(demo: Demo, corpus: Path, base_url: str, model: str, record: Path | None = None) -> dict[str, Any]:
    """Annotate the train sentences and the unlabelled articles (demonstrations from dev, never from them)."""
    extra = ("--record", str(record)) if record is not None else ()
    return demo.cli("annotate", "run", corpus / "train.conll", corpus / "unlabelled", "--base-url", base_url,
                    "--model", model, "--api-key-env", "OFFLINE_NER_DEMO_API_KEY", "--demos", corpus / "dev.conll",
                    *ANNOTATE_ARGS, *extra, "--out", demo.work / "annotations", as_json=True)


def run(work: Path, record: Path | None = None) -> int:
    """The whole demo; returns the process exit code."""
    corpus = demo_dir() / "corpus"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = {**os.environ, "OFFLINE_NER_TRUST_STORE": str(work / "trust.json"), "OFFLINE_NER_STORE": str(work / "store"),
           "OFFLINE_NER_DEMO_API_KEY": os.environ.get("OFFLINE_NER_DEMO_API_KEY", "not-needed-for-local-servers")}
    if "OFFLINE_NER_KEY_PASSPHRASE" not in env:
        env["OFFLINE_NER_KEY_PASSPHRASE"] = DEMO_PASSPHRASE
        _say("[demo] OFFLINE_NER_KEY_PASSPHRASE is not set: using a fixed demo passphrase (not for real keys)")
    demo = Demo(work, env)
    started = time.perf_counter()
    _say(f"[demo] work dir {work}; corpus {corpus}")
    try:
        with demo.step("connected side: generate an Ed25519 signing key"):
            demo.cli("keys", "generate", "--out", work / "keys", "--name", "demo-annotator")
        with demo.step("connected side: annotate demo sentences with the LLM"):
            with _llm_endpoint(demo, demo_dir() / "recordings.jsonl") as (base_url, model):
                summary = annotate(demo, corpus, base_url, model, record)
            qa = summary.get("qa") or {}
            _say(f"[demo] {summary['records_out']} records labelled by {', '.join(summary['models'])}; LLM labels vs "
                 f"gold on the train sentences: F1 {qa.get('f1', float('nan')):.3f} (a 135M model: poor but real)")
        if record is not None:
            _say(f"[demo] recorded the LLM exchanges into {record}; stopping after the annotation step")
            return 0
        with demo.step("connected side: sign the annotations into a bundle"):
            demo.cli("bundle", "create", "--kind", "annotations", "--stream", STREAM, "--sequence", "1",
                     "--key", work / "keys" / "demo-annotator.key", work / "annotations", "-o",
                     work / "annotations.bundle")
        with demo.step("closed side: trust the key, verify and import the bundle"):
            demo.cli("trust", "add", work / "keys" / "demo-annotator.pub.pem", "--role", "annotator", "--kind",
                     "annotations", "--threshold", "1", "--name", "demo annotator")
            demo.cli("bundle", "verify", work / "annotations.bundle")
            demo.cli("bundle", "import", work / "annotations.bundle")
        with demo.step("closed side: train MiniLM-L6 with Simple Mix (distilled first, then gold)"):
            # the distilled records are read straight from the verified, imported bundle
            trained = demo.cli("train", *TRAIN_ARGS, "--gold", corpus / "train.conll", "--distilled",
                               f"bundle:{STREAM}/records.jsonl", "--dev", corpus / "dev.conll", "--out", work / "train",
                               as_json=True)
            _say(f"[demo] best dev F1 {trained['best_dev_f1']:.3f}")
        with demo.step("closed side: export to ONNX (validated against PyTorch)"):
            demo.cli("export", "--model", work / "train" / "model", "-o", work / "onnx")
        with demo.step("closed side: batch predict the held-out articles"):
            predicted = demo.cli("predict", "--model", work / "onnx", "--input", corpus / "test", "-o",
                                 work / "predictions.jsonl", as_json=True)
        with demo.step("closed side: score the predictions against the held-out gold labels"):
            report = score_predictions(work / "predictions.jsonl", corpus / "test", corpus / "test.conll")
            _say(report.table())
        with demo.step("closed side: the same model through PyTorch, for comparison"):
            demo.cli("evaluate", "--model", work / "train" / "model", "--data", corpus / "test.conll")
    except DemoError as err:
        _say(f"\n[demo] STOPPED: {err}")
        _summary(demo, started)
        return 1
    _say(f"\n[demo] held-out F1 (ONNX predictions): {report.f1:.3f}  precision {report.precision:.3f}  "
         f"recall {report.recall:.3f}")
    _say(f"[demo] throughput: {_throughput(predicted)}")
    _summary(demo, started)
    return 0


def _throughput(predicted: dict[str, Any]) -> str:
    stats = predicted["throughput"]
    return (f"{stats['documents_per_s']} documents/s, {stats['tokens_per_s']} tokens/s, padding efficiency "
            f"{stats['padding_efficiency']} ({predicted['engine']['device']}, {predicted['engine']['precision']})")


def _summary(demo: Demo, started: float) -> None:
    _say("[demo] step times: " + "; ".join(f"{title.split(':')[-1].strip()} {s:.0f} s" for title, s in demo.timings))
    _say(f"[demo] total {time.perf_counter() - started:.0f} s; outputs in {demo.work}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline_ner.demo.walkthrough", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path("demo-out"), help="Output folder (wiped first).")
    parser.add_argument("--record", type=Path, default=None,
                        help="Maintainers: append the LLM exchanges to this file (needs OFFLINE_NER_LLM_BASE_URL).")
    args = parser.parse_args(argv)
    return run(args.work_dir, args.record)


if __name__ == "__main__":
    sys.exit(main())
