"""Help > Getting started and shortcuts (F1): the steps, and every shortcut the window has."""

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from ganstudio.gui.window.menus import shortcuts


def _help_box(window) -> QMessageBox | None:
    return next((w for w in QApplication.topLevelWidgets() if w.objectName() == "help_box"), None)


def test_the_help_box_lists_every_shortcut_from_the_actions(qtbot, window):
    rows = dict(shortcuts(window))
    native = QKeySequence.SequenceFormat.NativeText
    assert rows["Start"] == "F5, " + QKeySequence("Ctrl+Return").toString(native)
    assert rows["Open model"] == QKeySequence(QKeySequence.StandardKey.Open).toString(native)
    assert "Getting started and shortcuts" in rows and "Export grid" in rows
    assert "Export dataset" not in rows  # no shortcut of its own
    # Every action with a shortcut is listed, once: a new one cannot be left out.
    from PySide6.QtGui import QAction

    with_keys = {
        a.text().removesuffix("...") for a in window.findChildren(QAction) if a.shortcuts()
    }
    assert set(rows) == with_keys and len(rows) == len(shortcuts(window))

    window.commands.help.trigger()
    qtbot.waitUntil(lambda: _help_box(window) is not None and _help_box(window).isVisible())
    box = _help_box(window)
    text = box.text()
    assert "Getting started" in text and "Choose the data" in text
    assert "Keyboard shortcuts" in text and "Slow motion" in text and "F10" in text
    box.close()
    qtbot.waitUntil(lambda: _help_box(window) is None)  # deleted when closed
