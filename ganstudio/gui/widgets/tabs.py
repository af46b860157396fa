"""A tab widget that repaints its pages only when they need it.

Qt's QTabWidget lays itself out again on every layout request it gets, and each time repaints
itself whole: every page's every widget. Layout requests climb up from anything inside that
changes its size hint, and a QLabel asks for one on every ``setText``, even when its size stays
the same. So in the window a caption that changes with each preview ("Step 1,200: ...", the
mode coverage) or the curves' readout repainted the whole Train tab, plots and all, two or
three times a second: on Xvfb with 2 cores that was the largest part of what the window's
painting cost training (README, "The window's cost").

``StableTabWidget`` lets a layout request through only when something the tab widget's own
layout depends on has changed (its size, its tab bar's hints and visibility, its corner
widgets, the tabs); otherwise it only passes the request on to its parent, as QTabWidget
does after laying out (a page's size hints may have changed, and the window's layout must
hear of it). A widget that does change size inside a page is laid out by its own page's
layout as before, and repaints what moved.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QTabWidget, QWidget


class StableTabWidget(QTabWidget):
    """A QTabWidget without the full repaint on layout requests that change nothing it lays
    out (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._laid_out: tuple | None = None  # the layout inputs of the last real layout

    def _layout_inputs(self) -> tuple:
        bar = self.tabBar()
        corners = []
        for corner in (Qt.Corner.TopLeftCorner, Qt.Corner.TopRightCorner):
            w = self.cornerWidget(corner)
            corners.append(
                None
                if w is None
                else (w.isVisibleTo(self), w.sizeHint().toTuple(), w.minimumSizeHint().toTuple())
            )
        return (
            self.size().toTuple(),
            bar.isVisibleTo(self),
            bar.sizeHint().toTuple(),
            bar.minimumSizeHint().toTuple(),
            self.count(),
            self.currentIndex(),
            self.tabPosition(),
            self.documentMode(),
            self.layoutDirection(),
            tuple(corners),
        )

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and self.isVisible():
            inputs = self._layout_inputs()
            if inputs == self._laid_out:
                self.updateGeometry()  # what QTabWidget does last: the parent re-reads hints
                return QWidget.event(self, event)
            handled = super().event(event)
            self._laid_out = inputs
            return handled
        return super().event(event)
