#!/usr/bin/env bash
# The static checks, in the order a failure is cheapest to read. Run from the repository root
# with the development tools installed (scripts/test.sh installs them into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
echo "== ruff check";          "$PY" -m ruff check .
echo "== ruff format --check"; "$PY" -m ruff format --check .
echo "== import cycles";       "$PY" scripts/check_cycles.py ganstudio
echo "== private names";       "$PY" scripts/check_private.py ganstudio tests
echo "== import contracts";    "$(dirname "$PY")/lint-imports" --no-cache
echo "== mypy";                "$PY" -m mypy
