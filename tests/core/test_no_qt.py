"""The core must run headless: importing all of it loads no Qt module."""

import subprocess
import sys


def test_core_imports_no_qt():
    code = (
        "import sys, pkgutil, importlib, ganstudio.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'ganstudio.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import ganstudio.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', "
        "'pyqtgraph', 'shiboken6')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
