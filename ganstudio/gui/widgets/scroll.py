"""A scroll area for a column of controls: it scrolls up and down only, and asks its
splitter or layout for the width of what it holds, so a control is never cut at its side."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QScrollArea, QWidget


class VerticalScrollArea(QScrollArea):
    """A QScrollArea without a horizontal scroll bar whose size hints are at least as wide
    as its widget's minimum (plus the vertical scroll bar and the frame), however many
    controls are added to that widget later."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def setWidget(self, widget: QWidget) -> None:  # noqa: N802 (Qt API)
        super().setWidget(widget)
        widget.installEventFilter(self)
        self.updateGeometry()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the contents' minimum may have changed
        return super().eventFilter(watched, event)

    def _contents_width(self) -> int:
        widget = self.widget()
        if widget is None:
            return 0
        bar = self.verticalScrollBar().sizeHint().width()
        return widget.minimumSizeHint().width() + bar + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = super().minimumSizeHint()
        return QSize(max(hint.width(), self._contents_width()), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = super().sizeHint()
        return QSize(max(hint.width(), self._contents_width()), hint.height())
