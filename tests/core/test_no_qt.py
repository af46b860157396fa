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


def test_choices_match_the_engine():
    """The torch-free lists the window shows before the engine loads are the engine's own."""
    import ganstudio.core.data.builtin.points  # noqa: F401  (registers the built-ins)
    from ganstudio.core import choices
    from ganstudio.core.data.builtin import BUILTINS
    from ganstudio.core.training.losses import LOSSES

    assert set(choices.LOSS_NAMES) == set(LOSSES)
    assert set(choices.BUILTIN_DATASETS) == set(BUILTINS)


def test_choices_and_series_import_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; import ganstudio.core.choices; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
