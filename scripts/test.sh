#!/usr/bin/env bash
# Install everything from scratch (scripts/setup.sh), lint (ruff), type-check (mypy), and run the default test suite.
# Usage: scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k bundle
# Exit code: pytest's; "no tests collected" (pytest's 5) is turned into a failure, never a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
. "${OFFLINE_NER_VENV:-.venv}/bin/activate"
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
