#!/usr/bin/env bash
# Installs GAN Studio into .venv (once) and opens it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e .
if [ "$(uname)" = Linux ] && [ -z "${QT_QPA_PLATFORM:-}" ] && command -v ldconfig >/dev/null \
    && ! ldconfig -p | grep -q libxcb-cursor.so.0; then
  echo "note: Qt's X11 plugin needs libxcb-cursor0; if the window does not open, install it:" >&2
  echo "      sudo apt-get install libxcb-cursor0   (Debian/Ubuntu)" >&2
fi
exec .venv/bin/ganstudio "$@"
