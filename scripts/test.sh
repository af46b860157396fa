#!/usr/bin/env bash
# Installs GAN Studio with its test tools into .venv (once), runs the static checks
# (scripts/check.sh: ruff, import cycles and contracts, private names, mypy), then the whole
# test suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[test]"
bash scripts/check.sh
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q "$@"
