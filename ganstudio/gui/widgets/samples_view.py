"""The live samples view: a grid of generated images, or real versus generated 2-D points
with the current mode coverage."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ganstudio.gui.widgets.images import to_pixmap

# Points drawn per set: a few thousand fragments cost ~25 ms per paint on a small CPU, which
# would stall the window while training; this many show the distribution as well.
MAX_REAL_SHOWN = 600
MAX_FAKE_SHOWN = 1200

REAL = (40, 90, 200)
FAKE = (245, 130, 30)


class ImageView(QWidget):
    """Shows one picture as large as fits, keeping its aspect; small pictures are enlarged
    by whole pixels (nearest neighbour) so samples stay crisp."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def set_picture(self, picture: np.ndarray | None) -> None:
        self._pixmap = None if picture is None else to_pixmap(picture)
        self.update()

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(420, 420)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._pixmap is None or self._pixmap.isNull():
            return
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph)
        if scale >= 3:
            scale = float(int(scale))  # whole pixels: crisp
        else:  # whole pixels would waste up to half the space: scale smoothly instead
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        w, h = int(pw * scale), int(ph * scale)
        x, y = (self.width() - w) // 2, (self.height() - h) // 2
        painter.drawPixmap(x, y, w, h, self._pixmap)


class PointsView(pg.PlotWidget):
    """Real (blue) and generated (orange) 2-D points, with the mixture's mode centres."""

    def __init__(self, parent: QWidget | None = None, legend: bool = True) -> None:
        super().__init__(parent, background="w")
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.getPlotItem().hideButtons()
        # The axes draw the grid across the whole plot: translucent lines and tick labels,
        # 6 of a 17 ms paint on ring8 while training (bench --gui's display, 2 cores). They
        # change only with the view's range or size, not with the points that each new
        # preview brings, so each is kept as a pixmap in the display's pixels and drawn
        # again only when it changes (an AxisItem calls update() when its ticks move).
        for name in ("left", "bottom", "right", "top"):
            self.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.real = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(*REAL, 90))
        self.fake = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(*FAKE, 140))
        mode_pen = pg.mkPen(60, 60, 60, width=1.5)
        self.modes = pg.ScatterPlotItem(size=10, symbol="+", pen=mode_pen, brush=None)
        key = self.key = None
        self._legend_real: bool | None = None  # whether the legend lists "real" now
        self._legend = (
            (pg.mkBrush(*REAL), None, "o", "real"),
            (pg.mkBrush(*FAKE), None, "o", "generated"),
            (None, mode_pen, "+", "mode centre"),
        )
        if legend:
            # The legend shows its own, larger markers: the 3-pixel points themselves would
            # be specks in it, and the mode crosses need naming too. "real" is listed only
            # while real points are drawn (the explorer of a model file has none).
            key = self.key = self.addLegend(offset=(8, 8), labelTextColor=(40, 40, 40))
            self._list_legend(real=True)
        self.marker = pg.ScatterPlotItem(
            size=14, symbol="o", pen=pg.mkPen(200, 0, 0, width=2), brush=None
        )
        # The mode crosses lie under the points: a tight mixture's real points (ring8's sigma
        # is 0.01, a pixel or two) sat wholly under them and could not be seen.
        for item in (self.modes, self.real, self.fake, self.marker):
            self.addItem(item)
        if key is not None:
            key.setBrush(pg.mkBrush(255, 255, 255, 200))
        self._framed = False

    def set_real(self, points: np.ndarray | None, modes=()) -> None:
        self._list_legend(real=points is not None and len(points) > 0)
        if points is None or len(points) == 0:
            self.real.setData([], [])
        else:
            shown = points[:MAX_REAL_SHOWN]
            self.real.setData(shown[:, 0], shown[:, 1])
        m = np.asarray(modes, dtype=np.float64).reshape(-1, 2)
        self.modes.setData(m[:, 0], m[:, 1]) if len(m) else self.modes.setData([], [])
        self._framed = False
        if points is not None and len(points):
            self._frame(points)

    def _list_legend(self, real: bool) -> None:
        if self.key is None or real == self._legend_real:
            return
        self._legend_real = real
        self.key.clear()
        for brush, pen, symbol, name in self._legend:
            if name != "real" or real:
                sample = pg.ScatterPlotItem(size=8, symbol=symbol, pen=pen, brush=brush)
                self.key.addItem(sample, name)

    def legend_names(self) -> list[str]:
        """What the legend lists now, top to bottom (empty without one)."""
        return [] if self.key is None else [label.text for _, label in self.key.items]

    def _frame(self, points: np.ndarray) -> None:
        from ganstudio.core.render import plot_extent

        x0, x1, y0, y1 = plot_extent(points)
        self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self._framed = True

    def set_fake(self, points: np.ndarray | None) -> None:
        if points is None or len(points) == 0:
            self.fake.setData([], [])
            return
        finite = points[np.isfinite(points).all(axis=1)]
        shown = finite[:MAX_FAKE_SHOWN]
        self.fake.setData(shown[:, 0], shown[:, 1])
        if not self._framed and len(finite):
            self._frame(finite)


class SamplesView(QWidget):
    """Title line, then either the image grid or the points plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Samples appear here when training starts.")
        self.title.setWordWrap(True)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)  # a long caption must not widen the window
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.images = ImageView()
        self.points = PointsView()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.images)
        self.stack.addWidget(self.points)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        self._picture: np.ndarray | None = None
        self._samples: np.ndarray | None = None
        self._real: np.ndarray | None = None
        self._modes: tuple = ()

    @property
    def showing_points(self) -> bool:
        return self.stack.currentWidget() is self.points

    def set_title(self, title: str) -> None:
        """The line above the samples (what they are, or what is awaited)."""
        self.title.setText(title)

    def show_images(self, grid: np.ndarray, title: str, caption: str = "") -> None:
        self.stack.setCurrentWidget(self.images)
        self.images.set_picture(grid)
        self._picture, self._samples = grid, None
        self.title.setText(title)
        self.caption.setText(caption)

    def set_real_points(self, real: np.ndarray | None, modes=()) -> None:
        self._real, self._modes = real, tuple(modes)
        self.points.set_real(real, modes)

    def show_points(self, samples: np.ndarray, title: str, caption: str = "") -> None:
        self.stack.setCurrentWidget(self.points)
        self.points.set_fake(samples)
        self._picture, self._samples = None, samples
        self.title.setText(title)
        self.caption.setText(caption)

    def shows(self, picture: np.ndarray) -> bool:
        """Whether ``picture`` (that very array) is the one on screen."""
        return self._picture is picture

    def picture_available(self) -> bool:
        return self._picture is not None or self._samples is not None

    def picture(self) -> np.ndarray | None:
        """What is shown, as a uint8 (H, W, 3) picture (for Export grid...)."""
        if self._picture is not None:
            return self._picture
        if self._samples is None:
            return None
        from ganstudio.core.render import plot_extent, scatter_image

        real = self._real if self._real is not None else np.zeros((0, 2), np.float32)
        extent = plot_extent(real if len(real) else self._samples)
        modes = np.asarray(self._modes) if self._modes else None
        return scatter_image(self._samples, real, size=768, extent=extent, modes=modes)
