"""What the discriminator makes of images: its outputs over time, its extremes, and the
real images closest to a generated one.

- ``DHistograms``: for each probe, a histogram of D's outputs on real and on generated
  images; over time they form two heat maps (time across, D's output up), with the latest
  pair drawn sideways beside them. Probabilities use the fixed range [0, 1]; critic scores a
  range that follows the data.
- ``ImageStrip``: a row of images with a line of text under each; clicking one emits
  ``clicked(index)``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ganstudio.gui.widgets.images import to_qimage

BINS = 40
MAX_COLUMNS = 600  # probes kept; beyond, every other old one is dropped (time is halved)
REAL_COLOUR = (24, 128, 56)  # the curves panel's D(x) green
FAKE_COLOUR = (197, 34, 31)  # and its D(G(z)) red


def histogram_columns(
    columns: list[np.ndarray], lo: float, hi: float, bins: int = BINS
) -> np.ndarray:
    """Per column (one array of D outputs each) the share of values in each of ``bins``
    equal bins over [lo, hi] (values outside go to the end bins): float32 (T, bins)."""
    if not columns:
        return np.zeros((0, bins), np.float32)
    sizes = np.array([len(c) for c in columns])
    values = np.concatenate(columns).astype(np.float64)
    row = np.repeat(np.arange(len(columns)), sizes)
    ok = np.isfinite(values)
    scaled = (values[ok] - lo) / max(hi - lo, 1e-12) * bins
    idx = np.clip(scaled.astype(np.int64), 0, bins - 1)
    counts = np.bincount(row[ok] * bins + idx, minlength=len(columns) * bins)
    counts = counts.reshape(len(columns), bins).astype(np.float32)
    return counts / np.maximum(sizes, 1)[:, None]


def column_bounds(values: np.ndarray) -> tuple[float, float]:
    """The 1st and 99th percentile of one probe's finite outputs ((inf, -inf) if none)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.inf, -math.inf
    lo, hi = np.percentile(v, [1, 99])
    return float(lo), float(hi)


def output_range(
    columns: list[np.ndarray],
    probabilistic: bool,
    bounds: list[tuple[float, float]] | None = None,
) -> tuple[float, float]:
    """[0, 1] for probabilities. For critic scores: from the lowest 1st to the highest 99th
    percentile of any probe (``bounds``: their column_bounds, if known), a little wider and
    rounded outwards, so one outlier does not squash the picture and the range (and with it
    every column) changes only now and then."""
    if probabilistic:
        return 0.0, 1.0
    if bounds is None:
        bounds = [column_bounds(c) for c in columns]
    lo = min((b[0] for b in bounds), default=math.inf)
    hi = max((b[1] for b in bounds), default=-math.inf)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return -1.0, 1.0
    pad = 0.05 * (hi - lo) or 0.5
    lo, hi = lo - pad, hi + pad
    step = 10 ** math.floor(math.log10(hi - lo)) / 2
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


class StepAxis(pg.AxisItem):
    """An X axis over column numbers whose labels are the training steps of the columns."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[int] = []

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        out = []
        for v in values:
            i = int(round(v))
            out.append(f"{self.steps[i]:,}" if 0 <= i < len(self.steps) else "")
        return out


def _colour_map(rgb: tuple[int, int, int]) -> pg.ColorMap:
    return pg.ColorMap([0.0, 1.0], [(255, 255, 255), rgb])


class DHistograms(pg.GraphicsLayoutWidget):
    """D's outputs on real (top) and generated (bottom) images, probe after probe."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.probabilistic = True
        self.steps: list[int] = []
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []
        self.maps: dict[str, pg.ImageItem] = {}
        self.latest: dict[str, pg.BarGraphItem] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self.axes: list[StepAxis] = []
        self.lines: list[pg.InfiniteLine] = []
        for row, (key, title, rgb) in enumerate(
            (
                ("real", "D's output on real images, over time", REAL_COLOUR),
                ("fake", "D's output on generated images, over time", FAKE_COLOUR),
            )
        ):
            axis = StepAxis(orientation="bottom")
            self.axes.append(axis)
            plot = self.addPlot(row=row, col=0, axisItems={"bottom": axis})
            plot.setTitle(title, color="k", size="9pt")
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(_colour_map(rgb))
            plot.addItem(image)
            side = self.addPlot(row=row, col=1)
            side.setTitle("latest", color="k", size="9pt")
            side.hideButtons()
            side.setMenuEnabled(False)
            side.setMouseEnabled(x=False, y=False)
            side.setYLink(plot)
            side.getAxis("left").setStyle(showValues=False)
            side.setLabel("bottom", "share of samples")
            side.getAxis("bottom").setStyle(showValues=False)  # the bars' lengths say enough
            bars = pg.BarGraphItem(
                x0=[], y=[], height=0.0, width=[], brush=pg.mkBrush(*rgb, 170), pen=None
            )
            side.addItem(bars)
            for p in (plot, side):
                for name in ("left", "bottom"):
                    p.getAxis(name).setPen("k")
                    p.getAxis(name).setTextPen("k")
                    p.getAxis(name).enableAutoSIPrefix(False)
                line = pg.InfiniteLine(
                    pos=0.5, angle=0, pen=pg.mkPen(90, 90, 90, style=Qt.PenStyle.DashLine)
                )
                p.addItem(line, ignoreBounds=True)
                self.lines.append(line)
            plot.setLabel("left", "D(x)" if key == "real" else "D(G(z))")
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # until the first probe
            self.maps[key], self.latest[key], self.plots[key] = image, bars, plot
        self.ci.layout.setColumnStretchFactor(0, 5)
        self.ci.layout.setColumnStretchFactor(1, 1)
        self.plots["real"].getAxis("bottom").setStyle(showValues=False)
        self.plots["fake"].setLabel("bottom", "step")
        self.clear_data()

    def set_probabilistic(self, probabilistic: bool) -> None:
        self.probabilistic = bool(probabilistic)
        self.plots["real"].setLabel("left", "D(x)" if probabilistic else "critic(x)")
        self.plots["fake"].setLabel("left", "D(G(z))" if probabilistic else "critic(G(z))")
        for line in self.lines:  # "undecided" for probabilities; critic scores have no middle
            line.setVisible(self.probabilistic)

    def clear_data(self) -> None:
        self.steps, self.real, self.fake = [], [], []
        self.bounds: list[tuple[float, float]] = []  # per probe, both sets (critic scores)
        self._shares: dict[str, np.ndarray] = {}  # histograms drawn so far, for ``_range``
        self._range: tuple[float, float] | None = None
        for key in self.maps:
            self.maps[key].clear()
            self.latest[key].setOpts(x0=[], y=[], width=[])

    def append(self, step: int, d_real: np.ndarray, d_fake: np.ndarray) -> None:
        """Keep one probe's outputs (cheap: drawing happens in ``redraw``)."""
        self.steps.append(int(step))
        self.real.append(np.asarray(d_real, np.float32).ravel())
        self.fake.append(np.asarray(d_fake, np.float32).ravel())
        if not self.probabilistic:
            (a, b), (c, d) = column_bounds(self.real[-1]), column_bounds(self.fake[-1])
            self.bounds.append((min(a, c), max(b, d)))
        if len(self.steps) > MAX_COLUMNS:
            self.steps, self.real, self.fake = self.steps[::2], self.real[::2], self.fake[::2]
            self.bounds = self.bounds[::2]
            self._range = None  # the columns moved: histogram them again

    def redraw(self) -> None:
        if not self.steps:
            return
        lo, hi = output_range([], self.probabilistic, self.bounds)
        if self._range != (lo, hi):
            self._range, self._shares = (lo, hi), {}
        n = len(self.steps)
        for axis in self.axes:
            axis.steps = self.steps
        for key, columns in (("real", self.real), ("fake", self.fake)):
            # Only the probes that came since the last redraw are new columns.
            done = self._shares.get(key, np.zeros((0, BINS), np.float32))
            new = histogram_columns(columns[len(done) :], lo, hi)
            shares = self._shares[key] = np.concatenate([done, new]) if len(done) else new
            top = float(shares.max()) or 1.0
            self.maps[key].setImage(shares.T, autoLevels=False, levels=(0.0, top))
            self.maps[key].setRect(QRectF(-0.5, lo, n, hi - lo))
            width = (hi - lo) / BINS
            centres = lo + (np.arange(BINS) + 0.5) * width
            self.latest[key].setOpts(x0=np.zeros(BINS), y=centres, height=width, width=shares[-1])
            self.plots[key].setXRange(-0.5, n - 0.5, padding=0)
            self.plots[key].setYRange(lo, hi, padding=0)


class ImageStrip(QWidget):
    """Images in a row, as large as fits, each with a line of text under it."""

    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, clickable: bool = False) -> None:
        super().__init__(parent)
        self._images: list[QImage] = []
        self._texts: list[str] = []
        self.selected: int | None = None
        self.clickable = clickable
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(60)
        if clickable:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(480, 110)

    def set_images(self, images: np.ndarray, texts: list[str] | None = None) -> None:
        """uint8 (k, C, H, W) images (C = 1 or 3) and a line of text for each."""
        images = np.asarray(images)
        self._images = []
        if images.ndim == 4 and len(images):
            pictures = images.transpose(0, 2, 3, 1)
            self._images = [
                to_qimage(p[:, :, 0] if p.shape[2] == 1 else p[:, :, :3]) for p in pictures
            ]
        self._texts = list(texts or [""] * len(self._images))
        self.selected = None  # new pictures: the old selection no longer points at one
        self.update()

    def count(self) -> int:
        return len(self._images)

    def _cells(self) -> list[QRectF]:
        n = len(self._images)
        if not n:
            return []
        text_h = self.fontMetrics().height() + 2
        gap = 4
        side = min((self.width() - gap * (n - 1)) / n, self.height() - text_h)
        side = max(side, 8.0)
        return [QRectF(i * (side + gap), 0, side, side) for i in range(n)]

    def index_at(self, x: float, y: float) -> int | None:
        for i, r in enumerate(self._cells()):
            if r.contains(x, y):
                return i
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        i = self.index_at(event.position().x(), event.position().y())
        if self.clickable and i is not None:
            self.selected = i
            self.update()
            self.clicked.emit(i)
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        smooth_needed = False
        fm = self.fontMetrics()
        for i, (cell, image) in enumerate(zip(self._cells(), self._images, strict=False)):
            if cell.width() < 2.5 * image.width():
                smooth_needed = True
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth_needed)
            painter.drawImage(cell, image)
            if i == self.selected:
                painter.setPen(QPen(QColor(26, 115, 232), 3))
                painter.drawRect(cell.adjusted(1, 1, -1, -1))
            text = fm.elidedText(self._texts[i], Qt.TextElideMode.ElideRight, int(cell.width()))
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(
                QRectF(cell.left(), cell.bottom() + 1, cell.width(), fm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                text,
            )
