"""Room to work: at 1280 x 800 every tab shows every button, label and check box whole (no
text cut short, nothing clipped by a scroll area or a splitter), and the set-up panel
belongs to the Train tab, so exploring gets the window's width."""

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QToolButton,
    QWidget,
)

SIZE = (1280, 800)
# QWidget.width(w), not w.width(): the set-up panel names a field "width" (TrainConfig's).


def shown_width(widget: QWidget, window: QWidget) -> int:
    """How much of ``widget``'s width its ancestors let show: a scroll area's viewport or a
    narrow splitter pane cuts what lies beyond its sides. (Scrolled out of view up or down
    is not cut: the user scrolls there.)"""
    left = widget.mapTo(window, widget.rect().topLeft()).x()
    right = left + QWidget.width(widget)
    parent = widget.parentWidget()
    while parent is not None:
        x = parent.mapTo(window, parent.rect().topLeft()).x() if parent is not window else 0
        left, right = max(left, x), min(right, x + QWidget.width(parent))
        if parent is window:
            break
        parent = parent.parentWidget()
    return max(0, right - left)


def needed_width(widget: QWidget) -> int:
    """How wide ``widget`` must be to show its text whole (0: nothing to check, such as a
    label that wraps its words)."""
    if isinstance(widget, QLabel):
        text = widget.text()
        if not text or widget.wordWrap() or "<" in text:
            return 0
        extra = QWidget.width(widget) - widget.contentsRect().width()
        metrics = widget.fontMetrics()
        return max(metrics.horizontalAdvance(line) for line in text.splitlines()) + extra
    if isinstance(widget, (QPushButton, QToolButton, QCheckBox)) and widget.text():
        return widget.minimumSizeHint().width()
    return 0


def cut_widgets(window: QWidget) -> list[str]:
    """Every visible button, check box and label whose text does not fit where it shows."""
    problems = []
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, (QAbstractButton, QLabel)) or not widget.isVisible():
            continue
        if widget.window() is not window:  # a menu or a dialog of its own
            continue
        need = needed_width(widget)
        if not need:
            continue
        shown = shown_width(widget, window)
        if QWidget.width(widget) < need or shown < need:
            problems.append(
                f"{type(widget).__name__} {widget.text()!r}: needs {need} px, "
                f"is {QWidget.width(widget)} px, {shown} px of it shown"
            )
    return problems


def visit_every_tab(qtbot, window):
    """Yield the name of each tab and inner tab as it is shown."""
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        outer = window.tabs.tabText(i)
        inner = [
            t
            for t in window.tabs.widget(i).findChildren(QTabWidget)
            if t.isVisible() and t is not window.tabs
        ]
        if not inner:
            yield outer
        for tabs in inner:
            for j in range(tabs.count()):
                tabs.setCurrentIndex(j)
                qtbot.wait(50)
                yield f"{outer} > {tabs.tabText(j)}"


@pytest.fixture
def small_window(qtbot, window):
    window.showNormal()
    window.resize(*SIZE)
    qtbot.waitUntil(lambda: window.width() == SIZE[0], timeout=5000)
    qtbot.wait(100)
    return window


def test_every_control_shows_whole_at_1280_by_800(qtbot, small_window):
    window = small_window
    seen = []
    for name in visit_every_tab(qtbot, window):
        seen.append(name)
        assert cut_widgets(window) == [], name
    assert {"Train", "Explore > Browse", "Explore > Interpolate", "Diagnose"} <= set(seen)


def test_slider_values_show_whole(qtbot, small_window):
    window = small_window
    window.tabs.setCurrentWidget(window.explorer)
    qtbot.wait(50)
    rows = window.explorer.dim_rows + window.explorer.pca_rows
    for row in rows:
        row.set_value(-3.0)
        label = row.value_label
        assert label.text() == "-3.00"
        width = label.fontMetrics().horizontalAdvance(label.text())
        assert width <= label.contentsRect().width(), row.name.text()
        assert shown_width(label, window) == QWidget.width(label), row.name.text()
    psi = window.explorer.psi_label
    assert psi.fontMetrics().horizontalAdvance("psi 0.05") <= psi.contentsRect().width()


def test_the_set_up_panel_belongs_to_the_train_tab(qtbot, small_window):
    window = small_window
    window.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    assert window.setup.isVisible()
    window.tabs.setCurrentWidget(window.explorer)
    qtbot.wait(50)
    assert not window.setup.isVisible()
    # The explorer has the window's width (less the frame), not two thirds of it.
    assert window.explorer.width() >= window.width() - 40
