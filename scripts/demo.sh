#!/usr/bin/env bash
# The whole product end to end on the demo corpus shipped in offline_ner/demo/ (text we wrote ourselves):
# keys -> LLM annotation (recorded SmolLM2 replies replayed through the real client, or a live endpoint when
# OFFLINE_NER_LLM_BASE_URL is set) -> signed bundle -> trust, verify, import -> Simple Mix training (MiniLM-L6)
# -> ONNX export -> batch predict on held-out articles -> F1 and throughput.
#
# Usage: scripts/demo.sh [--work-dir demo-out]
# Needs only Python 3.10+ and the package registry (scripts/setup.sh installs everything into .venv).
# Optional: OFFLINE_NER_KEY_PASSPHRASE (else a fixed demo passphrase), OFFLINE_NER_LLM_BASE_URL and
# OFFLINE_NER_LLM_MODEL (annotate live instead of replaying), OFFLINE_NER_DEMO_API_KEY (the live endpoint's key).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
echo "[demo] installing into ${OFFLINE_NER_VENV:-.venv} (scripts/setup.sh; quick when already installed)" >&2
scripts/setup.sh
# shellcheck disable=SC1091
. "${OFFLINE_NER_VENV:-.venv}/bin/activate"
echo "[demo] setup took $(( $(date +%s) - started )) s" >&2
exec python -m offline_ner.demo.walkthrough "$@"
