#!/usr/bin/env bash
# Install everything from scratch (scripts/setup.sh), lint (ruff), type-check (mypy), and run the default test suite.
# Usage: scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k bundle
# Exit code: pytest's; "no tests collected" (pytest's 5) is turned into a failure, never a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
. "${OFFLINE_NER_VENV:-.venv}/bin/activate"
# the OpenSSF reference tool (model-signing), for the interop tests in tests/bundle/test_model_signing.py: it lives in
# its own venv, since it imports pyOpenSSL, which needs a cryptography older than the package's (docs/model-signing.md)
MS_VENV="${OFFLINE_NER_MODEL_SIGNING_VENV:-.venv-model-signing}"
if [ ! -x "$MS_VENV/bin/model_signing" ]; then
    echo "[test] installing the model_signing reference tool into $MS_VENV" >&2
    rm -rf "$MS_VENV"
    python3 -m venv "$MS_VENV"
    "$MS_VENV/bin/python" -m pip install --quiet "model-signing==1.1.1" "pyOpenSSL>=25" "cryptography<51"
fi
export OFFLINE_NER_MODEL_SIGNING="${OFFLINE_NER_MODEL_SIGNING:-$PWD/$MS_VENV/bin/model_signing}"
ruff check offline_ner tests scripts   # lint first: seconds, and a finding fails the run
mypy                                   # types (config: pyproject.toml [tool.mypy]); an error fails the run
set +e
python -m pytest -m "not slow and not llm" -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; failing" >&2
    exit 1
fi
exit "$status"
