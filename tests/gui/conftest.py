"""GUI tests: real widgets on the offscreen platform, preferences in a temporary file."""

import pytest
import torch
from PySide6.QtCore import QSettings

from ganstudio.gui.compat import pyside_refcount_bug
from ganstudio.gui.threads import running_threads

# A binding that crashes after a few thousand calls would abort the whole test run: say why.
_problem = pyside_refcount_bug()
if _problem:
    raise pytest.UsageError(_problem)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_thread_left_running(qtbot):
    yield
    qtbot.waitUntil(lambda: not running_threads(), timeout=30_000)


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    s.setValue("runs_dir", str(tmp_path / "runs"))
    return s


def open_window(qtbot, settings, fields=None):
    """A main window with the engine loaded and the dataset prepared."""
    from ganstudio.gui.window.main_window import MainWindow

    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.ask_save_on_close = lambda: "discard"
    window.show()
    qtbot.waitUntil(lambda: window.devices is not None and window.data is not None, timeout=60_000)
    if fields:
        set_fields(qtbot, window, fields)
    return window


def set_fields(qtbot, window, fields):
    panel = window.setup
    for name, value in fields.items():
        widget = getattr(panel, name)
        if hasattr(widget, "setValue"):
            widget.setValue(value)
        else:
            widget.setText(str(value))
    qtbot.waitUntil(lambda: window._validate_timer.isActive() is False, timeout=5000)
    window.validate_now()


@pytest.fixture
def make_window(qtbot):
    """make_window(settings, fields=None) -> a ready MainWindow."""
    return lambda settings, fields=None: open_window(qtbot, settings, fields)


@pytest.fixture
def fill(qtbot):
    """fill(window, {field: value}) sets set-up panel fields and validates."""
    return lambda window, fields: set_fields(qtbot, window, fields)


@pytest.fixture
def window(qtbot, settings):
    w = open_window(qtbot, settings, {"steps": 400, "width": 32, "batch_size": 64})
    yield w
    w.close()
