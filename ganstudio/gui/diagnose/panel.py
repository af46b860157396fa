"""The Diagnose tab: why training works or fails.

For a 2-D dataset it shows the lab (``gui.lab2d``); for images, what the discriminator makes
of real and generated images over time, the images it finds least and most real, and on a
click the real images nearest a generated one (searched in a background thread). For both:
quality measures against the step, and the warnings the run raised.

Events are kept as they arrive (cheap), and drawn only while the tab is visible: a hidden
tab costs the training thread nothing, and showing it draws the newest state at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from ganstudio.gui.diagnose.images import DHistograms, ImageStrip
from ganstudio.gui.diagnose.lab2d import Lab2D
from ganstudio.gui.diagnose.quality import QualityView, WarningsList
from ganstudio.gui.threads import Task

if TYPE_CHECKING:
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.quality.warnings import TrainingWarning
    from ganstudio.core.runs.job import RunStarted
    from ganstudio.core.training.events import Probe

NEIGHBOURS = 8  # real images shown next to a generated one
REDRAW_DELAY_MS = 30  # events arriving together are drawn once


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class ImagesView(QWidget):
    """D's outputs over time, its extremes, and nearest real neighbours (image datasets)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probabilistic = True
        self.probe: Probe | None = None
        # uint8 (N, C, H, W) tensor (or array) of the run's dataset, for neighbours
        self.data: Any = None
        self.data_note = ""
        self.neighbours_result: tuple[np.ndarray, np.ndarray] | None = None
        self._task: Task | None = None
        self._query: np.ndarray | None = None

        self.histograms = DHistograms()
        self.least_title = _title("")
        self.least = ImageStrip()
        self.most_title = _title("")
        self.most = ImageStrip(clickable=True)
        self.most.clicked.connect(self.find_neighbours)
        self.neighbours_title = _title("")
        self.neighbours = ImageStrip()

        strips = QWidget()
        column = QVBoxLayout(strips)
        column.setContentsMargins(4, 4, 4, 0)
        for title, strip in (
            (self.least_title, self.least),
            (self.most_title, self.most),
            (self.neighbours_title, self.neighbours),
        ):
            column.addWidget(title)
            column.addWidget(strip, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.histograms)
        split.addWidget(strips)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.clear()

    def set_probabilistic(self, probabilistic: bool) -> None:
        self.probabilistic = bool(probabilistic)
        self.histograms.set_probabilistic(probabilistic)
        d = "D(x)" if probabilistic else "critic score"
        dg = "D(G(z))" if probabilistic else "critic score"
        self.least_title.setText(
            f"Real images the discriminator finds <b>least</b> real ({d} under each): "
            "what it has not learnt to accept."
        )
        self.most_title.setText(
            f"Generated images it finds <b>most</b> real ({dg} under each). Click one to find "
            "the real images nearest to it."
        )

    def set_real_data(self, data: Any, note: str = "") -> None:
        """The run's images (uint8 (N, C, H, W) tensor or array), or None with a reason."""
        self.data, self.data_note = data, note

    def clear(self) -> None:
        self.probe = None
        self.histograms.clear_data()
        for strip in (self.least, self.most, self.neighbours):
            strip.set_images(np.zeros((0,)))
        self.most.selected = None
        self.neighbours_result = None
        self.neighbours_title.setText(
            "Nearest real images appear here: is the generator copying its training data?"
        )
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.set_probabilistic(self.probabilistic)

    def add_probe(self, p: Probe) -> None:
        self.probe = p
        self.histograms.append(p.step, p.d_real, p.d_fake)

    def redraw(self) -> None:
        self.histograms.redraw()
        p = self.probe
        if p is None or np.asarray(p.least_real).ndim != 4:
            return
        self.least.set_images(p.least_real, [f"{s:.3g}" for s in p.least_real_scores])
        self.most.set_images(p.most_real, [f"{s:.3g}" for s in p.most_real_scores])

    def find_neighbours(self, index: int) -> None:
        """Search the dataset for the real images closest to generated image ``index`` of
        the most-real strip, in a background thread (newest request wins)."""
        p = self.probe
        if p is None or not 0 <= index < len(p.most_real):
            return
        if self.data is None:
            self.neighbours_title.setText(
                self.data_note or "The run's dataset is not loaded: no neighbours to search."
            )
            return
        if self._task is not None:
            self._task.cancel()
        query = np.ascontiguousarray(p.most_real[index : index + 1])
        self._query = query
        data = self.data
        count = len(data)
        self.neighbours_title.setText(f"Searching {count:,} real images ...")

        def search(progress):
            from ganstudio.core.quality.neighbours import nearest_real

            return nearest_real(query, data, k=NEIGHBOURS, progress=progress)

        task = Task(search, "neighbours", self)
        task.done.connect(self._show_neighbours)
        task.failed.connect(lambda m: self.neighbours_title.setText(f"Search failed: {m}"))
        task.progress.connect(
            lambda done, total: self.neighbours_title.setText(
                f"Searching {total:,} real images ... {done / max(total, 1):.0%}"
            )
        )
        self._task = task.start()

    def _show_neighbours(self, result: tuple[np.ndarray, np.ndarray]) -> None:
        self._task = None
        data, query = self.data, self._query
        if data is None or query is None:
            return
        idx, dist = result
        self.neighbours_result = (idx[0], dist[0])
        real = np.asarray(data[idx[0]] if len(idx[0]) else np.zeros((0,)))
        if hasattr(real, "cpu"):
            real = real.cpu().numpy()
        images = np.concatenate([query, real]) if real.ndim == 4 else query
        texts = ["generated"] + [f"{d:.3g}" for d in dist[0]]
        self.neighbours.set_images(images, texts)
        self.neighbours_title.setText(
            "The generated image (left) and its nearest real images, with their pixel "
            "distance (0 = identical). One that looks the same means the generator copies "
            f"its data (images {', '.join(f'#{i}' for i in idx[0][:3])} ...)."
        )


class DiagnosticsPanel(QWidget):
    """The Diagnose tab. Feed it ``on_started``, then ``show_probe``, ``show_quality`` and
    ``show_warning`` as the run sends them; ``set_real_data`` enables neighbour search.
    ``metrics_interval_changed(seconds)`` when the user picks another quality interval."""

    metrics_interval_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.is_image = False
        self.probabilistic = True
        self.lab = Lab2D()
        self.images = ImagesView()
        self.idle = QLabel("Start training to see why it works or fails.")
        self.idle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        for w in (self.idle, self.lab, self.images):
            self.stack.addWidget(w)
        self.quality = QualityView()
        self.warnings = WarningsList()
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.quality)
        side.addWidget(self.warnings)
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 2)
        side.setSizes([560, 240])  # not the size hints: the graphs are hidden at first
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([620, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        self.last_probe: Probe | None = None
        self.redraw_ms: float | None = None  # the last redraw's cost
        self._before_follow: tuple[str, list[int]] | None = None  # idle text, splitter sizes
        self._probe_dirty = False
        self._quality_dirty = False
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS)
        self._timer.timeout.connect(self.redraw)
        self.quality.interval.currentIndexChanged.connect(
            lambda _i: self.metrics_interval_changed.emit(self.quality.interval_seconds())
        )

    # ---------------------------------------------------------------------------------
    # Events from the run

    def on_started(self, info: RunStarted) -> None:
        """A new run (core.runs.job.RunStarted): forget the last one; pick the 2-D or image view."""
        self.clear()
        self.is_image = info.dataset.get("kind") == "images"
        self.probabilistic = bool(info.probabilistic)
        self.lab.set_probabilistic(self.probabilistic)
        self.images.set_probabilistic(self.probabilistic)
        self.stack.setCurrentWidget(self.images if self.is_image else self.lab)

    def set_real_data(self, data: Any, note: str = "") -> None:
        """The run's images for the nearest-neighbour search (None: ``note`` says why)."""
        self.images.set_real_data(data, note)

    def show_probe(self, p: Probe) -> None:
        """A core.training.events.Probe."""
        self.last_probe = p
        if self.is_image:
            self.images.add_probe(p)
        self._probe_dirty = True
        self._schedule()

    def show_quality(self, q: Quality) -> None:
        """A core.training.events.Quality."""
        self.quality.add(q)
        self._quality_dirty = True
        self._schedule()

    def show_warning(self, w: TrainingWarning) -> None:
        """A core.quality.warnings.TrainingWarning: a new row (added at once, it is cheap)."""
        self.warnings.add(w)

    def clear(self) -> None:
        self.last_probe = None
        self._probe_dirty = self._quality_dirty = False
        self.lab.clear()
        self.images.clear()
        self.quality.clear()
        self.warnings.clear_warnings()
        self.stack.setCurrentWidget(self.idle)

    def clear_history(self) -> None:
        """Forget the quality measured and the warnings raised (a run's log started over)."""
        self.quality.clear()
        self.warnings.clear_warnings()

    def warnings_count(self) -> int:
        return self.warnings.warnings_count()

    def metrics_interval(self) -> float:
        """Seconds between quality measurements for the next run; 0: off."""
        return self.quality.interval_seconds()

    def set_metrics_interval(self, seconds: float) -> None:
        self.quality.set_interval_seconds(seconds)

    # ---------------------------------------------------------------------------------
    # A run followed from its folder (no probes: the quality side gets more room)

    def show_followed_run(self, note: str) -> None:
        """Say ``note`` where the run's views would be, and widen the quality side; the
        tab as it was comes back with ``end_followed_run``."""
        if self._before_follow is None:
            self._before_follow = (self.idle.text(), self.splitter.sizes())
        self.idle.setText(note)
        self.idle.setWordWrap(True)
        total = sum(self._before_follow[1]) or 1000
        self.splitter.setSizes([total // 3, total - total // 3])

    def end_followed_run(self) -> None:
        if self._before_follow is None:
            return
        text, sizes = self._before_follow
        self._before_follow = None
        self.idle.setText(text)
        self.splitter.setSizes(sizes)

    # ---------------------------------------------------------------------------------
    # Drawing (only while visible)

    def _schedule(self) -> None:
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._probe_dirty or self._quality_dirty:
            self._timer.start()

    def redraw(self) -> None:
        """Draw what arrived since the last redraw (nothing while hidden)."""
        if not self.isVisible():
            return
        t0 = time.perf_counter()
        if self._probe_dirty and self.last_probe is not None:
            self._probe_dirty = False
            if self.is_image:
                self.images.redraw()
            elif self.last_probe.field is not None:
                self.lab.show_probe(self.last_probe)
        if self._quality_dirty:
            self._quality_dirty = False
            self.quality.redraw()
        self.redraw_ms = (time.perf_counter() - t0) * 1000
