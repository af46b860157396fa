"""The live loss curves: losses on top, the discriminator's outputs below, steps along X.

The panel keeps every point in a `ganstudio.core.series.Series` per curve and redraws from a
timer, at most REDRAW_HZ times a second and only when data, view or settings changed. Each
redraw asks each series for just the visible range, decimated to about two points per
pixel, and hands it to a persistent PlotDataItem: a million points per curve redraw in a
few milliseconds (`ganstudio.bench.curves` measures it).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.series import Series
from ganstudio.core.spacing import Spacing
from ganstudio.gui.widgets.log_axis import LogAxis

# key (the column name in a Report and in the history's stats), legend name, plot, colour
CURVES = (
    ("g_loss", "G loss", "loss", "#e8710a"),
    ("d_loss", "D loss", "loss", "#1a73e8"),
    ("d_real", "D(x)", "d_output", "#188038"),
    ("d_fake", "D(G(z))", "d_output", "#c5221f"),
    ("g_grad", "|grad G|", "grad", "#9334e6"),
    ("d_grad", "|grad D|", "grad", "#007b83"),
)
SMOOTHING_WINDOWS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)  # steps; 1 = off
REDRAW_HZ = 10
# Largest share of wall time drawing may take while data streams in: the GUI thread shares
# the interpreter (and, on a small CPU, the cores) with training, so a slow redraw is spaced
# out instead of slowing training down.
DRAW_BUDGET = 0.02
MOUSE_MOVES_PER_S = 30
POINTS_PER_PIXEL = 2
D_OUTPUT_LABELS = {True: "D output (probability)", False: "Critic score"}


class _Readout(QLabel):
    """The wrapping cursor readout. It takes the height that its widest text would need at
    its width (``set_widest``), so the plots under it do not jump by a line whenever a value
    gets longer or shorter near the width where the text wraps."""

    def __init__(self) -> None:
        super().__init__()
        self._widest = QLabel()  # never shown: only asked for its height
        for label in (self, self._widest):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setContentsMargins(6, 0, 4, 0)
            label.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_widest(self, html: str) -> None:
        self._widest.setText(html)
        self.updateGeometry()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        return max(super().heightForWidth(width), self._widest.heightForWidth(width))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FontChange:
            self._widest.setFont(self.font())
            self.updateGeometry()
        super().changeEvent(event)


class _TimedLayout(pg.GraphicsLayoutWidget):
    """The plots' view, adding up the time its paints take (the redraw's pacing counts it)."""

    painting = 0.0  # seconds spent painting since take_painting() was last called

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        start = time.perf_counter()
        super().paintEvent(event)
        self.painting += time.perf_counter() - start

    def take_painting(self) -> float:
        spent, self.painting = self.painting, 0.0
        return spent


class CurvesPanel(QWidget):
    """Two stacked plots with linked step axes, a small toolbar and a cursor readout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series = {key: Series() for key, *_ in CURVES}
        self._dirty = False
        self._follow = True
        self._follow_span: float | None = None  # width of the followed range; None: all
        self._cursor_x: float | None = None  # step under the mouse, None when not over a plot
        # Where the mouse is, in scene coordinates: a followed view scrolls under a still
        # mouse, so each redraw maps it to a step again.
        self._cursor_scene: QPointF | None = None

        # ---- toolbar: smoothing, log scale, follow, readout
        self._smoothing = QSlider(Qt.Orientation.Horizontal)
        self._smoothing.setRange(0, len(SMOOTHING_WINDOWS) - 1)
        self._smoothing.setPageStep(1)
        self._smoothing.setFixedWidth(110)
        self._smoothing.setToolTip("Trailing moving average over this many steps")
        self._smoothing_value = QLabel()
        self._smoothing_value.setMinimumWidth(self.fontMetrics().horizontalAdvance("1000 steps"))
        self._log_scale = QCheckBox("Log scale")
        self._log_scale.setToolTip("Logarithmic loss axis")
        self._log_hint = QLabel("values ≤ 0 hidden")
        self._log_hint.setToolTip("A log scale cannot show losses at or below zero (e.g. WGAN)")
        self._log_hint.setStyleSheet("color: #b06000;")
        self._log_hint.setVisible(False)
        self._follow_box = QCheckBox("Follow")
        self._follow_box.setChecked(True)
        self._follow_box.setToolTip(
            "Keep the newest steps in view. Panning or zooming turns it off; "
            "tick it again to follow the current width of view (or all steps)."
        )
        # Six values and a step need about 560 px: a narrower panel wraps them between two
        # values instead of cutting the last ones off.
        self._readout = _Readout()
        self._readout.set_widest(_readout_html("newest 88,888,888", ["-8.888e+88"] * len(CURVES)))

        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(4, 2, 4, 0)
        toolbar.addWidget(QLabel("Smoothing"))
        toolbar.addWidget(self._smoothing)
        toolbar.addWidget(self._smoothing_value)
        toolbar.addSpacing(8)
        toolbar.addWidget(self._log_scale)
        toolbar.addWidget(self._log_hint)
        toolbar.addSpacing(8)
        toolbar.addWidget(self._follow_box)
        toolbar.addStretch(1)

        # ---- the plots
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        self._plots = _TimedLayout()
        self._plots.setBackground(background)
        self._plots.ci.setSpacing(0)
        # Log axes (the gradient norms always, the losses when asked) whose labels never
        # overlap (see widgets.log_axis).
        self._loss_plot = self._plots.addPlot(row=0, col=0, axisItems={"left": LogAxis("left")})
        self._d_plot = self._plots.addPlot(row=1, col=0)
        self._grad_plot = self._plots.addPlot(row=2, col=0, axisItems={"left": LogAxis("left")})
        self._all_plots = (self._loss_plot, self._d_plot, self._grad_plot)
        for row, stretch in enumerate((3, 3, 2)):
            self._plots.ci.layout.setRowStretchFactor(row, stretch)
        self._d_plot.setXLink(self._loss_plot)
        self._grad_plot.setXLink(self._loss_plot)
        self._loss_plot.setLabel("left", "Loss")
        self._grad_plot.setLabel("left", "Gradient norm")
        self._grad_plot.setLabel("bottom", "Step")
        # Gradient norms span orders of magnitude (and explode by them): always a log axis.
        self._grad_plot.setLogMode(y=True)
        for plot in (self._loss_plot, self._d_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
        self._items: dict[str, pg.PlotDataItem] = {}
        self._cursor_lines: list[pg.InfiniteLine] = []
        for plot in self._all_plots:
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setPen(foreground)
                plot.getAxis(axis).setTextPen(foreground)
                plot.getAxis(axis).enableAutoSIPrefix(False)  # no "(x0.001)" on the labels
            plot.getAxis("left").setWidth(64)  # the same width keeps the two X axes aligned
            view = plot.getViewBox()
            view.enableAutoRange(x=False, y=True)
            view.setAutoVisible(y=True)
            view.sigXRangeChanged.connect(self._mark_dirty)
            view.sigResized.connect(self._mark_dirty)
            view.sigRangeChangedManually.connect(self._on_manual_range_change)
            view.sigStateChanged.connect(self._on_view_state_changed)
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen(foreground, style=Qt.PenStyle.DashLine)
            )
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._cursor_lines.append(line)
        plots = {"loss": self._loss_plot, "d_output": self._d_plot, "grad": self._grad_plot}
        for key, name, plot, colour in CURVES:
            item = pg.PlotDataItem(
                pen=pg.mkPen(colour, width=1), name=name, antialias=False, connect="finite"
            )
            plots[plot].addItem(item)
            self._items[key] = item
        # Each plot's legend is a line above it, right-aligned: a legend inside the view
        # covered the newest points (on the gradient plot they reach its top).
        title_height = self.fontMetrics().height() + 2
        size = f"{self.font().pointSizeF():g}pt"
        for plot_key, plot in plots.items():
            names = [(name, colour) for _, name, where, colour in CURVES if where == plot_key]
            plot.setTitle(legend_html(names), justify="right", color=foreground, size=size)
            plot.titleLabel.setMaximumHeight(title_height)
            plot.layout.setRowFixedHeight(0, title_height)
        self.set_d_output_is_probability(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(toolbar)
        layout.addWidget(self._readout)  # its own line: four values need the width
        layout.addWidget(self._plots, 1)

        self._smoothing.valueChanged.connect(self._on_smoothing_changed)
        self._log_scale.toggled.connect(self._on_log_scale_toggled)
        self._loss_plot.ctrl.logYCheck.toggled.connect(self._log_scale.setChecked)  # menu
        self._follow_box.toggled.connect(self._on_follow_toggled)
        self._mouse_proxy = pg.SignalProxy(
            self._plots.scene().sigMouseMoved,
            rateLimit=MOUSE_MOVES_PER_S,
            slot=self._on_mouse_moved,
            threadSafe=False,
        )
        # One slow redraw (the first paint lays out fonts and axes) must not hold back the
        # next ones: spaced like the training loop's previews (the smaller of two costs).
        self._spacing = Spacing(DRAW_BUDGET)
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // REDRAW_HZ)
        self._timer.timeout.connect(self._on_timer)
        self._timer.start()
        self._on_smoothing_changed(self._smoothing.value())

    # ------------------------------------------------------------------------ data in

    def append(
        self,
        steps: np.ndarray,
        g_loss: np.ndarray,
        d_loss: np.ndarray,
        d_real: np.ndarray,
        d_fake: np.ndarray,
        g_grad: np.ndarray | None = None,
        d_grad: np.ndarray | None = None,
    ) -> None:
        """Add points (equal-length arrays; missing gradient norms are NaN). A step not
        after the newest one rewinds."""
        missing = np.full(np.shape(steps), np.nan)
        columns = (
            g_loss,
            d_loss,
            d_real,
            d_fake,
            missing if g_grad is None else g_grad,
            missing if d_grad is None else d_grad,
        )
        if any(np.shape(values) != np.shape(steps) for values in columns):
            raise ValueError("steps and the statistics must have the same length")
        for series, values in zip(self._series.values(), columns):
            series.append(steps, values)
        self._dirty = True

    def append_report(self, report: Any) -> None:
        """Add the per-step statistics of a training Report (anything with those arrays)."""
        self.append(
            report.steps,
            report.g_loss,
            report.d_loss,
            report.d_real,
            report.d_fake,
            getattr(report, "g_grad", None),
            getattr(report, "d_grad", None),
        )

    def set_history(self, steps: np.ndarray, stats: np.ndarray) -> None:
        """Replace everything with a run's history: stats (n, 6) as g_loss, d_loss, d_real,
        d_fake, g_grad, d_grad (a resumed checkpoint's `history/stats`; older ones have only
        the first four columns)."""
        stats = np.asarray(stats, np.float64)
        stats = stats.reshape(len(steps), stats.shape[-1] if stats.ndim == 2 else len(CURVES))
        if stats.shape[1] < len(CURVES):
            pad = np.full((len(stats), len(CURVES) - stats.shape[1]), np.nan)
            stats = np.concatenate([stats, pad], axis=1)
        for series in self._series.values():
            series.clear()
        self.append(steps, *stats[:, : len(CURVES)].T)

    def clear(self) -> None:
        """Forget every point (settings stay)."""
        for series in self._series.values():
            series.clear()
        self._dirty = True
        self._spacing = Spacing(DRAW_BUDGET)  # a new run's first redraw is drawn at once

    def set_d_output_is_probability(self, is_probability: bool) -> None:
        """Label the lower plot for a probability (minimax, non-saturating) or a critic score."""
        self._d_plot.setLabel("left", D_OUTPUT_LABELS[bool(is_probability)])

    def point_count(self) -> int:
        """Points held per curve (the longest curve)."""
        return max(len(series) for series in self._series.values())

    @property
    def plot_widget(self) -> pg.GraphicsLayoutWidget:
        """The widget holding both plots (to grab an image of them, or to time painting)."""
        return self._plots

    # ------------------------------------------------------------------------ settings

    def smoothing_window(self) -> int:
        """The trailing moving-average window in steps (1 means no smoothing)."""
        return SMOOTHING_WINDOWS[self._smoothing.value()]

    def set_smoothing_window(self, window: int) -> None:
        """Pick the offered window nearest to `window` (on a log scale)."""
        target = math.log(max(int(window), 1))
        index = min(
            range(len(SMOOTHING_WINDOWS)),
            key=lambda i: abs(math.log(SMOOTHING_WINDOWS[i]) - target),
        )
        self._smoothing.setValue(index)

    def log_scale(self) -> bool:
        return self._log_scale.isChecked()

    def set_log_scale(self, on: bool) -> None:
        self._log_scale.setChecked(bool(on))

    def follows(self) -> bool:
        return self._follow

    def set_follow(self, on: bool) -> None:
        self._follow_box.setChecked(bool(on))

    def state(self) -> dict[str, Any]:
        """The settings worth keeping between sessions (plain values, for QSettings)."""
        return {
            "smoothing": self.smoothing_window(),
            "log_scale": self.log_scale(),
            "follow": self.follows(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Apply what `state()` returned; missing or malformed entries are ignored.

        QSettings may hand values back as strings ("true", "100"), which is accepted.
        """
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.set_smoothing_window(int(state["smoothing"]))
        for key, setter in (("log_scale", self.set_log_scale), ("follow", self.set_follow)):
            value = _as_bool(state.get(key))
            if value is not None:
                setter(value)

    # ------------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        """Draw the visible range now (the timer calls this when something changed)."""
        self._apply_follow()
        x_min, x_max = self._loss_plot.viewRange()[0]
        width = self._loss_plot.getViewBox().width()
        max_points = max(int(POINTS_PER_PIXEL * width), 200)
        window = self.smoothing_window()
        hidden_by_log = False
        for key, _, plot, _ in CURVES:
            x, y = self._series[key].view(x_min, x_max, max_points, window)
            self._items[key].setData(x, y)
            if plot == "grad":
                y = np.where(y > 0, y, np.nan)  # log axis: zero norms (no gradient) hidden
            elif plot == "loss" and self.log_scale():
                hidden_by_log = hidden_by_log or bool(np.any(y <= 0))  # NaN compares False
        self._log_hint.setVisible(hidden_by_log)
        self._place_cursor()
        self._dirty = False

    def _on_timer(self) -> None:
        if not (self._dirty and self.isVisible()):
            return
        now = time.perf_counter()
        if not self._spacing.due(now):
            return
        # Qt paints the new data when the event loop gets there (a forced repaint here would
        # paint twice: the scene's own update follows it), so the cost of a redraw is its
        # own time and that of the paints since the last one.
        painted = self._plots.take_painting()
        self.redraw()
        done = time.perf_counter()
        self._spacing.ran(done - now + painted, done, 0.0)

    def _mark_dirty(self, *_: Any) -> None:
        self._dirty = True

    def _newest_range(self) -> tuple[int, int] | None:
        ranges = [(s.steps[0], s.steps[-1]) for s in self._series.values() if len(s)]
        if not ranges:
            return None
        return int(min(r[0] for r in ranges)), int(max(r[1] for r in ranges))

    def _apply_follow(self) -> None:
        extent = self._newest_range()
        if not self._follow or extent is None:
            return
        first, newest = extent
        low = first if self._follow_span is None else newest - self._follow_span
        if [low, newest] != self._loss_plot.viewRange()[0]:
            self._loss_plot.setXRange(low, newest, padding=0)

    # ------------------------------------------------------------------------ reactions

    def _on_smoothing_changed(self, index: int) -> None:
        window = SMOOTHING_WINDOWS[index]
        self._smoothing_value.setText("off" if window == 1 else f"{window} steps")
        self._dirty = True

    def _on_log_scale_toggled(self, on: bool) -> None:
        self._loss_plot.setLogMode(y=on)
        self._dirty = True

    def _on_follow_toggled(self, on: bool) -> None:
        self._follow = on
        if on:
            # Follow what is shown: everything if the view reaches back to the first step,
            # else a range of the current width ending at the newest step.
            extent = self._newest_range()
            x_min, x_max = self._loss_plot.viewRange()[0]
            covers_all = extent is None or x_min <= extent[0]
            self._follow_span = None if covers_all else x_max - x_min
        self._dirty = True

    def _on_manual_range_change(self, mask: Any) -> None:
        if self._follow and (mask is None or mask[0]):  # a pan or zoom along the steps
            self._follow_box.setChecked(False)

    def _on_view_state_changed(self, view: pg.ViewBox) -> None:
        # The plot's "A" button turns X auto-range on: take it as "show all and follow".
        if view.autoRangeEnabled()[0]:
            view.enableAutoRange(x=False)
            self._follow_box.setChecked(True)
            self._follow_span = None
            self._dirty = True

    # ------------------------------------------------------------------------ cursor

    def _on_mouse_moved(self, args: tuple[QPointF]) -> None:
        self.show_values_at(args[0])

    def show_values_at(self, scene_pos: QPointF) -> None:
        """Move the crosshair to a scene position and show the values there."""
        self._cursor_scene = QPointF(scene_pos)
        self._place_cursor()

    def _place_cursor(self) -> None:
        """Map the mouse's scene position to a step (the view may have moved under it), then
        move the crosshair there and update the readout."""
        self._cursor_x = None
        scene_pos = self._cursor_scene
        for plot in self._all_plots:
            view = plot.getViewBox()
            if scene_pos is not None and view.sceneBoundingRect().contains(scene_pos):
                self._cursor_x = view.mapSceneToView(scene_pos).x()
        for line in self._cursor_lines:
            line.setVisible(self._cursor_x is not None)
            if self._cursor_x is not None:
                line.setValue(self._cursor_x)
        self._update_readout()

    def leaveEvent(self, event: QEvent) -> None:  # the mouse left the panel
        self._cursor_scene = None
        self._place_cursor()
        super().leaveEvent(event)

    def readout_text(self) -> str:
        """The readout as plain text (what the label shows, without colours)."""
        return self._readout_parts()[1]

    def _update_readout(self) -> None:
        self._readout.setText(self._readout_parts()[0])

    def _readout_parts(self) -> tuple[str, str]:
        """(rich text, plain text) for the cursor's step, or the newest one."""
        extent = self._newest_range()
        if extent is None:
            return "", ""
        step = self._cursor_x if self._cursor_x is not None else extent[1]
        window = self.smoothing_window()
        points = {key: self._series[key].value_at(step, window) for key, *_ in CURVES}
        shown = next((p.step for p in points.values() if p is not None), None)
        head = f"step {shown:,}" if self._cursor_x is not None else f"newest {shown:,}"
        values = [
            "–" if (point := points[key]) is None else _format(point.smoothed) for key, *_ in CURVES
        ]
        plain = [head] + [f"{name} {value}" for (_, name, *_), value in zip(CURVES, values)]
        return _readout_html(head, values), "  ".join(plain)


def _readout_html(head: str, values: list[str]) -> str:
    """The readout's rich text: the step in bold, then each curve's name in its colour and
    its value. A line may break only between two values."""
    rich = [f"<b>{_unbroken(head)}</b>"]
    for (_, name, _, colour), value in zip(CURVES, values, strict=True):
        rich.append(f"<span style='color:{colour}'>{_unbroken(name)}</span>&nbsp;{value}")
    return "&nbsp; ".join(rich)


def _unbroken(text: str) -> str:
    """``text`` as HTML that a wrapping label never breaks: non-breaking spaces, and a word
    joiner after each "|" (the line-breaking rules allow a break after one)."""
    return text.replace(" ", "&nbsp;").replace("|", "|&#8288;")


def legend_html(names: list[tuple[str, str]]) -> str:
    """A legend line: each curve's name after a dash of its colour."""
    return "&nbsp;&nbsp;&nbsp;".join(
        f"<span style='color:{colour}'>&#8212;&#8212;</span>&nbsp;{_unbroken(name)}"
        for name, colour in names
    )


def _format(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.4g}"


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int):
        return bool(value)
    return None
