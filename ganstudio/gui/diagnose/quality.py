"""Sample quality over the run, and the warnings the run raised.

``QualityView`` draws each metric of core's ``Quality`` events against the step, with the
same metric between two halves of the real data as a dashed line (the "floor": what a
perfect generator reads at this sample size), a line saying how to read each, and a status
line while the feature extractor is being prepared or when measuring is off.
``WarningsList`` lists core.quality.warnings' TrainingWarnings: when, what, what to try.
"""

from __future__ import annotations

import math
import time
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

# plot key, title (short: the view is often a narrow column), metrics drawn with their colours
PLOTS = (
    ("fd", "FD: lower is better", (("fd", "#1a73e8"),)),
    ("kid", "KID: lower is better", (("kid", "#e8710a"),)),
    ("pr", "Precision, recall: higher", (("precision", "#188038"), ("recall", "#8e24aa"))),
    ("score", "Score: higher is better", (("score", "#c5221f"),)),
)
EXPLANATION = (
    "<b>FD</b> (Fréchet distance) and <b>KID</b> (kernel distance): how far generated samples "
    "are from real ones in feature space. <b>Precision</b> (green): the share of generated "
    "samples that look like real ones; <b>recall</b> (purple): the share of the real data's "
    "variety the generator covers. <b>Score</b>: how confidently and evenly a classifier sees "
    "the classes. <b>Dashed lines</b>: the same measure between two halves of your real "
    "data, about the best a generator can read at this sample size."
)
# How often quality is measured during a run (seconds; 0 = off), as offered in the view.
INTERVALS = (
    ("off", 0.0),
    ("30 s", 30.0),
    ("1 min", 60.0),
    ("2 min", 120.0),
    ("5 min", 300.0),
    ("10 min", 600.0),
)
DEFAULT_INTERVAL = 120.0
IDLE_STATUS = "FD, KID, precision and recall appear here once the run has measured them."


class QualityView(QWidget):
    """Metric curves (``add``), status line and progress while preparing (``redraw``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel(IDLE_STATUS)
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.graphs = pg.GraphicsLayoutWidget()
        self.graphs.setBackground("w")
        self.note = QLabel(EXPLANATION)
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.interval = QComboBox()
        for text, seconds in INTERVALS:
            self.interval.addItem(text, seconds)
        self.set_interval_seconds(DEFAULT_INTERVAL)
        self.interval.setToolTip(
            "How often runs started from now on measure quality. Measuring never takes more "
            "than 5% of the training time; the first run on a dataset also trains its "
            "feature extractor in that share."
        )
        top = QHBoxLayout()  # the choice, and progress while preparing; the status below
        top.addWidget(QLabel("<b>Quality</b>, measured every"))
        top.addWidget(self.interval)
        top.addStretch(1)
        top.addWidget(self.progress)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.graphs, 1)
        layout.addWidget(self.note)
        layout.addStretch(1)  # keeps the status line at the top while there are no graphs
        self._layout = layout

        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.floors: dict[str, pg.InfiniteLine] = {}
        for i, (key, title, metrics) in enumerate(PLOTS):
            plot = self.graphs.addPlot(row=i // 2, col=i % 2)
            plot.setTitle(title, color="k", size="9pt")
            plot.hideButtons()
            plot.setMenuEnabled(False)
            for side in ("left", "bottom"):
                plot.getAxis(side).setPen("k")
                plot.getAxis(side).setTextPen("k")
                plot.getAxis(side).enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(48)
            for name, colour in metrics:
                self.curves[name] = plot.plot(
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                )
                line = pg.InfiniteLine(
                    angle=0,
                    movable=False,
                    pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                )
                line.setVisible(False)
                plot.addItem(line)  # with its bounds: the floor stays in view
                self.floors[name] = line
            self.plots[key] = plot
        self.clear()

    def interval_seconds(self) -> float:
        """Seconds between quality measurements for the next run; 0: off."""
        return float(self.interval.currentData())

    def set_interval_seconds(self, seconds: float) -> None:
        """Pick the offered interval nearest to ``seconds``."""
        values = [v for _, v in INTERVALS]
        best = min(range(len(values)), key=lambda i: abs(values[i] - float(seconds)))
        self.interval.setCurrentIndex(best)

    def clear(self) -> None:
        self.history: dict[str, tuple[list[int], list[float]]] = {}
        self.floor: dict[str, float] = {}
        self.last = None
        for curve in self.curves.values():
            curve.setData([], [])
        for line in self.floors.values():
            line.setVisible(False)
        self.plots["score"].setVisible(False)
        self._show_graphs(False)  # until there is something to draw
        self.status.setText(IDLE_STATUS)
        self.progress.hide()

    def add(self, q) -> None:
        """Keep a core.training.events.Quality (cheap: drawing happens in ``redraw``)."""
        self.last = q
        if q.status == "ready":
            for name, value in q.metrics.items():
                if value is None or not math.isfinite(float(value)):
                    continue
                steps, values = self.history.setdefault(name, ([], []))
                if steps and steps[-1] == q.step:
                    values[-1] = float(value)
                else:
                    steps.append(int(q.step))
                    values.append(float(value))
            if q.floor:
                self.floor = {k: float(v) for k, v in q.floor.items() if v is not None}

    def redraw(self) -> None:
        q = self.last
        if q is None:
            return
        self.progress.setVisible(q.status == "preparing")
        if q.status == "preparing":
            self.progress.setValue(int(round(100 * max(0.0, min(1.0, q.progress)))))
            self.status.setText(q.message or "Preparing the feature extractor for quality ...")
        elif q.status == "off":
            self.status.setText(
                f"Quality is not measured: {q.message}"
                if q.message
                else "Quality is not measured in this run."
            )
        else:
            self.status.setText(self._ready_text(q))
        for name, curve in self.curves.items():
            steps, values = self.history.get(name, ([], []))
            curve.setData(np.asarray(steps, np.float64), np.asarray(values, np.float64))
            floor = self.floor.get(name)
            line = self.floors[name]
            line.setVisible(floor is not None and math.isfinite(floor) and bool(steps))
            if floor is not None and math.isfinite(floor):
                line.setValue(floor)
        self.plots["score"].setVisible("score" in self.history)
        # Steps from 0: a single measurement otherwise gets an axis of +-0.5 step around it.
        newest = max((h[0][-1] for h in self.history.values() if h[0]), default=0)
        for plot in self.plots.values():
            plot.setXRange(0, max(newest, 1), padding=0.05)
        self._show_graphs(bool(self.history))

    def _show_graphs(self, on: bool) -> None:
        self.graphs.setVisible(on)
        self.note.setVisible(on)
        self._layout.setStretch(self._layout.count() - 1, 0 if on else 1)

    @staticmethod
    def _ready_text(q) -> str:
        parts = [f"Final, at step {q.step:,}:" if q.final else f"Step {q.step:,}:"]
        for name, label, fmt in (
            ("fd", "FD", ".3g"),
            ("kid", "KID", ".3g"),
            ("precision", "precision", ".2f"),
            ("recall", "recall", ".2f"),
            ("score", "score", ".3g"),
        ):
            if name in q.metrics and q.metrics[name] is not None:
                floor = q.floor.get(name)
                real = f" (real data: {floor:{fmt}})" if floor is not None else ""
                parts.append(f"{label} {q.metrics[name]:{fmt}}{real},")
        if q.diversity is not None:
            parts.append(f"diversity {q.diversity:.2f} (1 = as varied as the real data),")
        parts.append(f"measured in {q.seconds:.1f} s.")
        return " ".join(parts)


class WarningsList(QScrollArea):
    """One row per TrainingWarning, newest on top: step and time, what happened, what to
    try (word-wrapped labels, so long advice is never cut)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self._column = QVBoxLayout(inner)
        self._column.setContentsMargins(6, 6, 6, 6)
        self._column.setSpacing(8)
        self.header = QLabel("<b>Warnings</b>")
        self.header.setWordWrap(True)
        self._column.addWidget(self.header)
        self._column.addStretch(1)
        self.setWidget(inner)
        self.rows: list[QLabel] = []  # newest first
        self.clear_warnings()

    def add(self, w) -> QLabel:
        """Add a core.quality.warnings.TrainingWarning."""
        when = time.strftime("%H:%M:%S")
        row = QLabel(
            f"<b>Step {w.step:,}</b> ({when}): {escape(w.message)}<br>"
            f"<i>What to try:</i> {escape(w.advice)}"
        )
        row.setTextFormat(Qt.TextFormat.RichText)
        row.setWordWrap(True)
        row.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.setToolTip(w.kind)
        row.setStyleSheet("padding-bottom: 6px; border-bottom: 1px solid palette(mid);")
        self._column.insertWidget(1, row)
        self.rows.insert(0, row)
        self._update_header()
        return row

    def clear_warnings(self) -> None:
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        self._update_header()

    def warnings_count(self) -> int:
        return len(self.rows)

    def _update_header(self) -> None:
        n = len(self.rows)
        self.header.setText(
            f"<b>Warnings ({n})</b>"
            if n
            else "<b>Warnings</b>: none so far; the run is watched for trouble the curves hide."
        )
