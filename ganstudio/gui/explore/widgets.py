"""Pieces of the explorer: a slider row with reset, and a clickable grid of samples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from ganstudio.gui.widgets.samples_view import ImageView

SLIDER_STEPS = 100  # slider positions per unit


class SliderRow(QWidget):
    """name [------o------] value [reset]; ``moved(float)`` while dragging or stepping."""

    moved = Signal(float)

    def __init__(self, name: str, limit: float = 3.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self.name = QLabel(name)
        self.name.setMinimumWidth(54)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-int(limit * SLIDER_STEPS), int(limit * SLIDER_STEPS))
        self.slider.setPageStep(SLIDER_STEPS // 2)
        self.value_label = QLabel("0.00")
        widest = f"{-limit:.2f}"  # the longest value the slider shows
        self.value_label.setMinimumWidth(
            self.value_label.fontMetrics().horizontalAdvance(widest) + 4
        )
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        reset = QToolButton()
        reset.setText("0")
        reset.setToolTip("Reset this slider")
        reset.clicked.connect(lambda: self.set_value(0.0, emit=True))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.name)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        row.addWidget(reset)
        self.slider.valueChanged.connect(self._changed)

    def value(self) -> float:
        return self.slider.value() / SLIDER_STEPS

    def set_value(self, v: float, emit: bool = False) -> None:
        self.slider.blockSignals(not emit)
        self.slider.setValue(int(round(v * SLIDER_STEPS)))
        self.slider.blockSignals(False)
        self.value_label.setText(f"{self.value():.2f}")

    def _changed(self, _raw: int) -> None:
        self.value_label.setText(f"{self.value():.2f}")
        self.moved.emit(self.value())


class GridView(ImageView):
    """A grid picture whose cells can be clicked (select) and double-clicked (activate)."""

    selected = Signal(int)
    activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = self.cols = 0
        self.padding = 0
        self.cell = 0  # cell size in picture pixels
        self.selection: int | None = None
        self.zoom = 1.0  # 1 = fit the view

    def set_grid(self, picture: np.ndarray, rows: int, cols: int, cell: int, padding: int) -> None:
        self.rows, self.cols, self.cell, self.padding = rows, cols, cell, padding
        if self.selection is not None and self.selection >= rows * cols:
            self.selection = None
        self.set_picture(picture)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(420, 420)

    def _target(self) -> QRect | None:
        pm = self.pixmap()
        if pm is None or pm.isNull():
            return None
        scale = min(self.width() / pm.width(), self.height() / pm.height()) * self.zoom
        w, h = int(pm.width() * scale), int(pm.height() * scale)
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def cell_at(self, x: float, y: float) -> int | None:
        """The cell index under widget coordinates, or None (padding, outside)."""
        target, pm = self._target(), self.pixmap()
        if target is None or pm is None or not target.contains(int(x), int(y)) or self.cols == 0:
            return None
        px = (x - target.x()) * pm.width() / target.width()
        py = (y - target.y()) * pm.height() / target.height()
        step = self.cell + self.padding
        c, r = int((px - self.padding) // step), int((py - self.padding) // step)
        if not (0 <= r < self.rows and 0 <= c < self.cols):
            return None
        return r * self.cols + c

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        target, pm = self._target(), self.pixmap()
        if target is None or pm is None:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, target.width() < 3 * pm.width()
        )
        painter.drawPixmap(target, pm)
        if self.selection is not None and self.cols:
            r, c = divmod(self.selection, self.cols)
            s = target.width() / pm.width()
            step = self.cell + self.padding
            rect = QRect(
                int(target.x() + (self.padding + c * step) * s) - 2,
                int(target.y() + (self.padding + r * step) * s) - 2,
                int(self.cell * s) + 4,
                int(self.cell * s) + 4,
            )
            painter.setPen(QPen(QColor(255, 170, 0), 3))
            painter.drawRect(rect)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None:
            self.selection = cell
            self.update()
            self.selected.emit(cell)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None:
            self.activated.emit(cell)


def single_picture(images: np.ndarray, index: int = 0) -> np.ndarray:
    """uint8 (N, C, H, W) -> one (H, W, 3) picture."""
    img = images[index]
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    return np.ascontiguousarray(img.transpose(1, 2, 0))
