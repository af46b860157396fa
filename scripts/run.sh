#!/usr/bin/env bash
# Installs GAN Studio into .venv (once) and opens it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e .
exec .venv/bin/ganstudio "$@"
