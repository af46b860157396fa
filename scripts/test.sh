#!/usr/bin/env bash
# Installs GAN Studio with its test tools into .venv (once) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[test]"
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q "$@"
