"""Finding a picture in the explored generator: the Explore tab's *Find a picture* box.

*Find a picture...* (or a picture file dropped on the Explore tab) projects the picture into
the latent space (core.explore.projection) in a thread of its own, on the worker's own copy
of the generator; the box shows the target, the reconstruction as it improves, the distance
and a progress bar, with Cancel. The result becomes the current sample (``set_vector``), so
the sliders, directions, grid and exports work from it; the projection before it is kept,
and *Interpolate from previous* makes the two the interpolation's keyframes.

Only immutable payloads cross threads: the worker gets the generator source (a model file's
generator or a training snapshot, neither changed after it is made), a path and numbers, and
sends back frozen dataclasses of NumPy arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QThread, Signal, Slot
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ganstudio.gui.explore.source import ExploredSource
from ganstudio.gui.threads import run_to_end, start_thread
from ganstudio.gui.widgets.samples_view import ImageView

if TYPE_CHECKING:
    from ganstudio.core.explore.projection import Projection, ProjectionUpdate
    from ganstudio.gui.explore.source import ExploredGenerator


PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
DEFAULT_STEPS = 300
DEFAULT_CANDIDATES = 2_000  # fewer than the command line's 10,000: the window answers sooner
DEFAULT_STARTS = 4

# set_vector(z, seed, psi): make z (before truncation) the current sample
SetVector = Callable[[np.ndarray, int | None, float | None], None]
# report(text, kind): a banner for the user
Report = Callable[[str, str], None]
# set_keys(keys (K, D), seeds): the interpolation's keyframes
SetKeys = Callable[[np.ndarray], None]


def _chw_to_hwc(picture: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) -> (H, W, 3) for the views."""
    p = np.asarray(picture).transpose(1, 2, 0)
    return np.ascontiguousarray(np.repeat(p, 3, axis=2) if p.shape[2] == 1 else p)


class ProjectionWorker(QObject):
    """Runs one projection in its thread; ``updated(ProjectionUpdate)`` after each step,
    then ``done(Projection)``, ``failed(message)`` or ``cancelled()``, and ``finished()``."""

    target_ready = Signal(object)  # uint8 (C, H, W): the prepared target
    updated = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(
        self,
        generator: ExploredGenerator,
        meta: dict[str, Any],
        picture: str,
        settings: dict[str, int],
    ) -> None:
        super().__init__()
        self._generator = generator
        self._meta = dict(meta)
        self._picture = picture
        self._settings = dict(settings)
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Any thread: stop at the next step."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        from ganstudio.core.explore import projection as proj

        def work() -> Projection:
            module = proj.generator_copy(self._generator)
            shape = tuple(int(d) for d in getattr(module, "out_shape", ()))
            target = proj.load_target(self._picture, shape)
            self.target_ready.emit(target.pixels)
            extractor, _ = proj.find_extractor(self._meta)
            return proj.project(
                module,
                target,
                extractor=extractor,
                steps=self._settings["steps"],
                starts=self._settings["starts"],
                candidates=self._settings["candidates"],
                progress=self.updated.emit,
                cancelled=self._stop.is_set,
            )

        run_to_end(work, self, "projection", proj.ProjectionCancelled, self.cancelled.emit)


class ProjectionBox(QGroupBox):
    """The *Find a picture* controls: a compact group for the explorer's control column.

    It reads the explored ``source``; a finished projection goes to ``set_vector``, the
    previous and newest ones to ``set_keys`` (Interpolate from previous), and messages to
    ``report``. ``finished(Projection)`` follows each projection that completed.
    """

    finished = Signal(object)

    def __init__(
        self,
        source: ExploredSource,
        set_vector: SetVector,
        set_keys: SetKeys,
        report: Report,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Find a picture", parent)
        self.source = source
        self.set_vector = set_vector
        self.set_keys = set_keys
        self.report = report
        self.candidates = DEFAULT_CANDIDATES
        self.starts = DEFAULT_STARTS
        self.latest: Projection | None = None
        self.previous: Projection | None = None
        self._worker: ProjectionWorker | None = None
        self._thread: QThread | None = None

        self.find_button = QPushButton("Find a picture...")
        self.find_button.setToolTip(
            "Find the latent whose sample looks most like a picture (or drop a picture file "
            "on the Explore tab); it becomes the current sample"
        )
        self.find_button.clicked.connect(lambda: self.find_picture())
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("Optimisation steps: more find a nearer latent, slower")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.target_view = ImageView()
        self.result_view = ImageView()
        for view in (self.target_view, self.result_view):
            view.setMinimumSize(72, 72)
            view.setMaximumHeight(110)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.status = QLabel("Drop a picture here, or choose one.")
        self.status.setWordWrap(True)
        self.interpolate_button = QPushButton("Interpolate from previous projection")
        self.interpolate_button.setToolTip(
            "Make the previous and the newest projection the interpolation's keyframes"
        )
        self.interpolate_button.setEnabled(False)
        self.interpolate_button.clicked.connect(self.interpolate_from_previous)

        row = QHBoxLayout()
        row.addWidget(self.find_button, 1)
        row.addWidget(self.steps)
        row.addWidget(self.cancel_button)
        pictures = QHBoxLayout()
        for title, view in (("target", self.target_view), ("found", self.result_view)):
            column = QVBoxLayout()
            column.addWidget(view, 1)
            column.addWidget(QLabel(title))
            pictures.addLayout(column)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(pictures)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.interpolate_button)

    # ---------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def find_picture(self, path: str | None = None) -> bool:
        """Project the picture at ``path`` (asked for when None); False when nothing started
        (no picture model explored, a projection already running, no file chosen)."""
        generator = self.source.generator
        if generator is None or self.source.state is None:
            self.report("Open a picture model first (File > Open model...).", "warning")
            return False
        if not self.source.is_image:
            self.report(
                "Finding a picture needs a picture model; this one makes points.", "warning"
            )
            return False
        if self.is_running():
            self.report("A projection is running: cancel it first.", "warning")
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Find a picture", "", PICTURE_FILTER)
            if not path:
                return False
        settings = {
            "steps": self.steps.value(),
            "starts": self.starts,
            "candidates": max(self.candidates, self.starts),
        }
        worker = ProjectionWorker(generator, self.source.meta, path, settings)
        worker.target_ready.connect(lambda p: self.target_view.set_picture(_chw_to_hwc(p)))
        worker.updated.connect(self._on_update)
        worker.done.connect(self._on_done)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.target_view.set_picture(None)
        self.result_view.set_picture(None)
        self.progress.setRange(0, 0)  # busy while the starts are chosen
        self.status.setText(
            f"{Path(path).name}: choosing {self.starts} starts among "
            f"{settings['candidates']:,} random samples ..."
        )
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._thread = start_thread(worker, worker.run, "projection")
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.status.setText("Cancelling ...")

    def close_worker(self, ms: int = 10_000) -> bool:
        """Cancel a running projection and wait for its thread (the window is closing)."""
        self.cancel()
        return self._thread is None or self._thread.wait(ms)

    # ---------------------------------------------------------------------------------

    def _on_update(self, update: ProjectionUpdate) -> None:
        if self.progress.maximum() != update.steps:
            self.progress.setRange(0, update.steps)
        self.progress.setValue(update.step)
        if update.reconstruction is not None:
            self.result_view.set_picture(_chw_to_hwc(update.reconstruction))
        self.status.setText(f"step {update.step} of {update.steps}: loss {update.loss:.4f}")

    def _on_done(self, result: Projection) -> None:
        self.previous, self.latest = self.latest, result
        self.result_view.set_picture(_chw_to_hwc(result.reconstruction))
        self.progress.setRange(0, result.steps)
        self.progress.setValue(result.steps)
        feature = (
            f", features {result.feature_distance:.3f}"
            if result.feature_distance is not None
            else ""
        )
        self.status.setText(
            f"Found: pixel distance {result.pixel_distance:.3f} (start "
            f"{result.start_pixel_distance:.3f}){feature}; {result.seconds:.1f} s. "
            f"{'; '.join(result.notes)}".strip()
        )
        self.interpolate_button.setEnabled(
            self.previous is not None and self.previous.latent.shape == result.latent.shape
        )
        state = self.source.state
        if state is not None and state.dim == result.latent.shape[0]:
            self.set_vector(result.latent, None, 1.0)  # found without truncation
        self.finished.emit(result)

    def _on_failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Could not find it: {message}")
        self.report(f"Could not find the picture: {message}", "error")

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText("Cancelled.")

    def _on_finished(self) -> None:
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._worker = None

    def forget(self) -> None:
        """Another generator is explored: the projections kept belong to the old one."""
        self.latest = self.previous = None
        self.interpolate_button.setEnabled(False)

    def interpolate_from_previous(self) -> None:
        if self.previous is None or self.latest is None:
            return
        keys = np.stack([self.previous.latent, self.latest.latent]).astype(np.float32)
        self.set_keys(keys)


class PictureDrops(QObject):
    """Lets a picture file dropped on ``widget`` start a projection in ``box``; other files
    are left to the window (which opens models, runs and datasets dropped on it)."""

    def __init__(self, widget: QWidget, box: ProjectionBox) -> None:
        super().__init__(widget)
        self.box = box
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    @staticmethod
    def picture_path(event: QDropEvent) -> str | None:
        urls = event.mimeData().urls()
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = urls[0].toLocalFile()
        suffixes = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
        return path if path.lower().endswith(suffixes) else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDropEvent)  # the drag events' classes derive from it
            if self.picture_path(event) is not None and self.box.source.is_image:
                event.acceptProposedAction()
                return True
            event.ignore()
            return False
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            path = self.picture_path(event)
            if path is not None:
                event.acceptProposedAction()
                self.box.find_picture(path)
                return True
        return False
