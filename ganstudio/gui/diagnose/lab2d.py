"""The 2-D lab: the game on the plane, from one probe of a running 2-D GAN.

Background: what the discriminator says about every point of the plane (a heat map with
a colour bar). On top: real points, the generator's points, an arrow on a subsample of the
generated points showing where the generator's loss pushes each one, and the generator's
manifold (the image of a grid in latent space, warped onto the plane). Below: how many
generated points sit on each mode of the mixture, and a caption saying what is on screen,
including which half of a slow-motion step was just taken.

Each layer is one persistent pyqtgraph item updated with setData/setImage: a redraw costs a
few milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ganstudio.gui.widgets.samples_view import FAKE, REAL

ARROWS = 150  # generated points that get an arrow
ARROW_SPAN = 0.08  # the longest arrow, as a share of the view's width
HEAD_SHARE = 0.3  # arrow head length, as a share of the arrow (capped, see below)
HEAD_MAX = 0.02  # ... at this share of the view's width
HEAD_ANGLE = math.radians(25)
# Light ends of a diverging map (ColorBrewer PRGn): points stay readable on top of it.
SAYS_FAKE = (194, 165, 207)
SAYS_REAL = (166, 219, 160)
NEUTRAL = (247, 247, 247)
OFF_MODE = (150, 150, 150)

PHASE_TEXT = {
    "": "",
    "d": (
        "After the discriminator's update: the map changed, the points did not. "
        "Step again for the generator's update."
    ),
    "g": (
        "After the generator's update: the points moved along the arrows; the map did not change."
    ),
}


def heat_colormap() -> pg.ColorMap:
    """'D says fake' (purple) through neutral (white) to 'D says real' (green)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [SAYS_FAKE, NEUTRAL, SAYS_REAL])


def heat_levels(heat: np.ndarray, probabilistic: bool) -> tuple[float, float]:
    """Colour range: [0, 1] for probabilities; for critic scores, symmetric about the median
    (so white is "as real as a typical point" and the colours say above or below)."""
    if probabilistic:
        return 0.0, 1.0
    finite = heat[np.isfinite(heat)]
    if finite.size == 0:
        return -1.0, 1.0
    mid = float(np.median(finite))
    half = float(np.percentile(np.abs(finite - mid), 99)) or 1e-6
    return mid - half, mid + half


def arrow_segments(
    points: np.ndarray, push: np.ndarray, span: float, longest: float = ARROW_SPAN
) -> np.ndarray:
    """Line segments (pairs of points) drawing an arrow from each point along ``push``.

    Lengths are scaled together so the longest arrow is ``longest * span``; each arrow is a
    shaft and two head strokes: float (6 * N, 2) for a PlotDataItem with connect="pairs".
    """
    p = np.asarray(points, np.float64).reshape(-1, 2)
    v = np.asarray(push, np.float64).reshape(-1, 2)
    ok = np.isfinite(p).all(1) & np.isfinite(v).all(1)
    p, v = p[ok], v[ok]
    length = np.hypot(v[:, 0], v[:, 1])
    top = float(length.max()) if len(length) else 0.0
    if top <= 0 or not math.isfinite(top) or span <= 0:
        return np.zeros((0, 2))
    v = v * (longest * span / top)
    length = length * (longest * span / top)
    tip = p + v
    unit = -v / np.maximum(length, 1e-12)[:, None]  # pointing back along the shaft
    head = np.minimum(HEAD_SHARE * length, HEAD_MAX * span)[:, None]
    c, s = math.cos(HEAD_ANGLE), math.sin(HEAD_ANGLE)
    left = np.stack([c * unit[:, 0] - s * unit[:, 1], s * unit[:, 0] + c * unit[:, 1]], 1)
    right = np.stack([c * unit[:, 0] + s * unit[:, 1], -s * unit[:, 0] + c * unit[:, 1]], 1)
    seg = np.stack([p, tip, tip, tip + head * left, tip, tip + head * right], 1)
    return seg.reshape(-1, 2)


def manifold_polylines(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An (R, C, 2) grid of points -> (points (2 R C, 2), connect flags) drawing its R rows
    and C columns as polylines in one item (connect[i]: join point i to point i + 1)."""
    g = np.asarray(grid, np.float64)
    if g.ndim != 3 or g.shape[2] != 2 or g.size == 0:
        return np.zeros((0, 2)), np.zeros(0, bool)
    rows, cols = g.shape[:2]
    xy = np.concatenate([g.reshape(-1, 2), g.transpose(1, 0, 2).reshape(-1, 2)])
    connect = np.ones(len(xy), bool)
    connect[cols - 1 : rows * cols : cols] = False  # the end of each row
    connect[rows * cols + rows - 1 :: rows] = False  # the end of each column
    finite = np.isfinite(xy).all(1)
    connect &= finite & np.roll(finite, -1)
    xy[~finite] = 0.0
    return xy, connect


class Lab2D(QWidget):
    """Shows one ``Probe`` of a 2-D run (``show_probe``); ``set_probabilistic`` picks the colour
    scale; ``clear`` empties it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probabilistic = True
        self.step = 0
        self.phase = ""

        self.plot = pg.PlotWidget(background="w")
        self.plot.setAspectLocked(True)
        self.plot.getPlotItem().hideButtons()
        self.plot.getPlotItem().setMenuEnabled(False)
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen("k")
            axis.setTextPen("k")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setZValue(-10)
        self.plot.addItem(self.heat_item)
        self.colour_bar = pg.ColorBarItem(
            values=(0.0, 1.0),
            colorMap=heat_colormap(),
            interactive=False,
            orientation="horizontal",
            width=12,
            colorMapMenu=False,
            pen="k",
        )
        self.colour_bar.setImageItem(self.heat_item, insert_in=self.plot.getPlotItem())
        self.colour_bar.axis.setTextPen("k")
        self.colour_bar.axis.setHeight(40)  # room for the tick values and the label under them
        self.manifold_item = pg.PlotDataItem(pen=pg.mkPen(70, 70, 70, 120, width=1))
        self.real_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*REAL, 150))
        self.fake_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*FAKE, 200))
        self.arrows_item = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(20, 20, 20, 200))
        for item in (self.manifold_item, self.real_item, self.fake_item, self.arrows_item):
            self.plot.addItem(item)

        self.bars = pg.PlotWidget(background="w")
        self.bars.getPlotItem().hideButtons()
        self.bars.getPlotItem().setMenuEnabled(False)
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.setMaximumHeight(150)
        self.bars.getAxis("left").setWidth(44)
        self._bars_title = ""
        self.bars.setTitle("Generated points per mode", color="k", size="9pt")
        for side in ("left", "bottom"):
            self.bars.getAxis(side).setPen("k")
            self.bars.getAxis(side).setTextPen("k")
        self.bar_item = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.bars.addItem(self.bar_item)
        # The count of a grey bar cut at the top (the bars' scale fits the modes' bars).
        self.off_label = pg.TextItem(anchor=(0.5, 0.0), color=(20, 20, 20))
        self.off_label.setVisible(False)
        self.bars.addItem(self.off_label)

        self.layers: dict[str, QCheckBox] = {}
        toggles = QHBoxLayout()
        toggles.setContentsMargins(4, 0, 4, 0)
        toggles.addWidget(QLabel("Show:"))
        for key, text, items, tip in (
            ("heat", "D's map", (self.heat_item,), "What the discriminator says at each point"),
            ("arrows", "Arrows", (self.arrows_item,), "Where the generator's loss pushes"),
            ("manifold", "Manifold", (self.manifold_item,), "A latent grid, through G"),
            ("real", "Real", (self.real_item,), "Real points (blue)"),
            ("fake", "Generated", (self.fake_item,), "The generator's points (orange)"),
        ):
            box = QCheckBox(text)
            box.setChecked(True)
            box.setToolTip(tip)
            box.toggled.connect(lambda on, items=items: [i.setVisible(on) for i in items])
            toggles.addWidget(box)
            self.layers[key] = box
        toggles.addStretch(1)

        self.caption = QLabel("The lab shows the game once a 2-D run is training.")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(toggles)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.bars)
        layout.addWidget(self.caption)
        self._extent: tuple[float, float, float, float] | None = None
        self._bar_text = ""

    def set_probabilistic(self, probabilistic: bool) -> None:
        self.probabilistic = bool(probabilistic)

    def clear(self) -> None:
        self.heat_item.clear()
        for item in (self.real_item, self.fake_item):
            item.setData([], [])
        self.arrows_item.setData([], [])
        self.manifold_item.setData([], [])
        self.bar_item.setOpts(x=[], height=[])
        self.off_label.setVisible(False)
        self._extent = None
        self.caption.setText("The lab shows the game once a 2-D run is training.")

    def show_probe(self, probe) -> None:
        """Draw a Probe with a ``field`` (core.training.events.Field2D)."""
        f = probe.field
        if f is None:
            return
        self.step, self.phase = int(probe.step), probe.phase
        x0, x1, y0, y1 = f.extent
        heat = f.heat
        rows, cols = heat.shape
        dx = (x1 - x0) / max(cols - 1, 1)
        dy = (y1 - y0) / max(rows - 1, 1)
        lo, hi = heat_levels(heat, self.probabilistic)
        self.heat_item.setImage(heat, autoLevels=False, levels=(lo, hi))
        self.heat_item.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.colour_bar.setLevels((lo, hi))
        self._label_colour_bar(lo, hi)
        if self._extent != f.extent:
            self._extent = f.extent
            self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

        self.real_item.setData(pos=np.asarray(f.real, np.float64))
        self.fake_item.setData(pos=np.asarray(f.fake, np.float64))
        segs = arrow_segments(f.fake[:ARROWS], f.push[:ARROWS], x1 - x0)
        self.arrows_item.setData(segs[:, 0], segs[:, 1], connect="pairs")
        xy, connect = manifold_polylines(f.manifold)
        self.manifold_item.setData(xy[:, 0], xy[:, 1], connect=connect)
        self._show_modes(f.mode_counts, f.mode_radius)
        self.caption.setText(self._caption(probe))

    def _label_colour_bar(self, lo: float, hi: float) -> None:
        if self.probabilistic:
            text = "D's output (probability):  \u2190 says fake  |  says real \u2192"
        else:
            text = (
                f"Critic score (white: the median, {(lo + hi) / 2:.3g}):  "
                "\u2190 says fake  |  says real \u2192"
            )
        if text != self._bar_text:
            self._bar_text = text
            self.colour_bar.axis.setLabel(text, color="k")

    def _show_modes(self, counts: np.ndarray, radius: float) -> None:
        counts = np.asarray(counts)
        self.bars.setVisible(len(counts) > 1)
        if len(counts) <= 1:
            self.bar_item.setOpts(x=[], height=[])
            self.off_label.setVisible(False)
            return
        k = len(counts) - 1
        # What "on a mode" means, and the share off every mode: early in a run (and for a
        # generator that spreads its points along the ring) most points are grey although
        # every mode has some, which the Train tab counts as captured.
        off = int(counts[-1]) / max(1, int(counts.sum()))
        title = (
            f"Generated points within {radius:.3g} (3 sigma) of each mode, "
            f"and on none (grey: {off:.0%})"
        )
        if title != self._bars_title:
            self._bars_title = title
            self.bars.setTitle(title, color="k", size="9pt")
        brushes = [pg.mkBrush(*FAKE)] * k + [pg.mkBrush(*OFF_MODE)]
        x = np.arange(k + 1, dtype=np.float64)
        self.bar_item.setOpts(x=x, height=counts.astype(np.float64), brushes=brushes)
        ticks = [(i, str(i + 1)) for i in range(k)] + [(k, "off")]
        self.bars.getAxis("bottom").setTicks([ticks])
        self.bars.setXRange(-0.6, k + 0.6, padding=0)
        # The scale fits the modes' bars: early in a run most points are on none, and a
        # scale that fitted the grey bar left the modes' bars a few pixels high. A grey bar
        # taller than that is cut at the top, with its count written on it.
        top = max(1.0, float(counts[:-1].max())) * 1.15
        self.bars.setYRange(0, top, padding=0)
        cut = float(counts[-1]) > top
        self.off_label.setVisible(cut)
        if cut:
            self.off_label.setText(f"{int(counts[-1]):,} \u2191")
            self.off_label.setPos(k, top)

    def _caption(self, probe) -> str:
        f = probe.field
        strength = np.hypot(f.push[:, 0], f.push[:, 1]) if len(f.push) else np.zeros(0)
        median = float(np.median(strength)) if len(strength) else 0.0
        parts = [f"Step {probe.step:,}."]
        if PHASE_TEXT.get(probe.phase):
            parts.append(PHASE_TEXT[probe.phase])
        scale = "probability" if self.probabilistic else "critic score"
        parts.append(
            f"Background: the discriminator's {scale} at each point (green: says real, "
            "purple: says fake). Blue: real points; orange: generated points. Arrows: where "
            f"the generator's loss pushes each point (scaled to fit; median strength "
            f"{median:.3g}). Grey grid: a grid of latents through the generator."
        )
        return " ".join(parts)
