"""Rendering latents in a thread of its own; the newest request of each purpose wins.

A dragged slider sends many requests; while one renders, newer ones replace the waiting
request of the same purpose, so the picture on screen is never more than one render behind
the mouse (the Qt "Mandelbrot" example's idea, with StyleGAN3-visualizer-style stamped
requests). Requests of different purposes (the current sample, the browse grid, the
interpolation path) do not displace each other; the current sample goes first.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ganstudio.core.errors import error_message
from ganstudio.gui.threads import start_thread

if TYPE_CHECKING:
    from typing import TypeAlias

    from ganstudio.core.explore.sampling import GeneratorWeights, Sampler
    from ganstudio.core.modelfile import GeneratorFile

    RenderSource: TypeAlias = GeneratorFile | GeneratorWeights

log = logging.getLogger(__name__)

# Order in which waiting requests are served.
PURPOSES = ("current", "grid", "keyframes", "path")


@dataclass(frozen=True)
class RenderResult:
    id: int
    purpose: str
    z: np.ndarray  # (n, D) float32: what was rendered
    images: np.ndarray | None  # uint8 (n, C, H, W) for image models
    points: np.ndarray | None  # float32 (n, 2) for 2-D models
    generator_version: int
    seconds: float  # render time in the render thread
    requested_at: float  # time.perf_counter() when the request was made


# What a class-conditional model draws: None (unconditional), ("classes", int64 (n,)) or
# ("weights", float32 (n, classes): mixtures of classes).
ClassChoice = tuple[str, np.ndarray] | None


@dataclass(frozen=True)
class _Request:
    id: int
    purpose: str
    z: np.ndarray
    asked: float  # time.perf_counter() when it was made
    source_version: int
    source: RenderSource
    classes: ClassChoice = None


class RenderWorker(QObject):
    rendered = Signal(object)
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, np.ndarray, float, ClassChoice]] = {}
        self._source: tuple[int, RenderSource] | None = None  # (version, generator)
        self._stop = False

    # -- any thread ----------------------------------------------------------------------
    def submit(
        self, request_id: int, purpose: str, z: np.ndarray, classes: ClassChoice = None
    ) -> None:
        with self._cond:
            self._pending[purpose] = (request_id, z, time.perf_counter(), classes)
            self._cond.notify()

    def set_source(self, version: int, source: RenderSource) -> None:
        with self._cond:
            self._source = (version, source)
            self._cond.notify()

    def has_pending(self) -> bool:
        """Whether requests wait to be rendered (the one rendering now not counted)."""
        with self._cond:
            return bool(self._pending)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    # -- the render thread -----------------------------------------------------------------
    def _next_request(self) -> _Request | None:
        """The next request to render (waiting for one), or None once stopped."""
        with self._cond:
            while not self._stop and not (self._pending and self._source is not None):
                self._cond.wait()
            if self._stop or self._source is None:
                return None
            purpose = next(p for p in PURPOSES if p in self._pending)
            request_id, z, asked, classes = self._pending.pop(purpose)
            source_version, source = self._source
        return _Request(request_id, purpose, z, asked, source_version, source, classes)

    @Slot()
    def loop(self) -> None:
        sampler: Sampler | None = None
        version = -1
        try:
            while (request := self._next_request()) is not None:
                if sampler is None or request.source_version != version:
                    from ganstudio.core.explore.sampling import sampler_for

                    sampler = sampler_for(request.source)
                    version = request.source_version
                try:
                    t0 = time.perf_counter()
                    choice = request.classes if sampler.classes else None
                    images, points = sampler.render(
                        request.z,
                        classes=choice[1] if choice and choice[0] == "classes" else None,
                        class_weights=choice[1] if choice and choice[0] == "weights" else None,
                    )
                    self.rendered.emit(
                        RenderResult(
                            request.id,
                            request.purpose,
                            request.z,
                            images,
                            points,
                            version,
                            time.perf_counter() - t0,
                            request.asked,
                        )
                    )
                except Exception as exc:
                    log.warning("render failed:\n%s", traceback.format_exc())
                    self.failed.emit(error_message(exc))
        finally:
            QThread.currentThread().quit()


class Renderer(QObject):
    """The GUI thread's side: ``set_generator``, ``request``; results come as ``rendered``."""

    rendered = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = RenderWorker()
        self._worker.rendered.connect(self.rendered)
        self._worker.failed.connect(self.failed)
        self._thread: QThread | None = None  # started with the first generator
        self._next_id = 0
        self.version = 0

    def set_generator(self, source: RenderSource) -> None:
        """A GeneratorFile (opened model) or a training Snapshot; the next render uses it."""
        if self._thread is None:
            from PySide6.QtCore import QCoreApplication

            self._thread = start_thread(self._worker, self._worker.loop, "render")
            app = QCoreApplication.instance()
            if app is not None:  # never leave the thread running when the program quits
                app.aboutToQuit.connect(self.close)
        self.version += 1
        self._worker.set_source(self.version, source)

    def request(
        self,
        purpose: str,
        z: np.ndarray,
        classes: np.ndarray | None = None,
        class_weights: np.ndarray | None = None,
    ) -> int:
        """Render latents z; a class-conditional model draws ``classes`` (one per latent)
        or the class mixtures ``class_weights`` (one row per latent)."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown render purpose {purpose!r}")
        self._next_id += 1
        z = np.ascontiguousarray(np.asarray(z, np.float32).reshape(-1, z.shape[-1]))
        choice: ClassChoice = None
        if class_weights is not None:
            choice = ("weights", np.array(class_weights, np.float32).reshape(len(z), -1))
        elif classes is not None:
            choice = ("classes", np.array(classes, np.int64).reshape(len(z)))
        self._worker.submit(self._next_id, purpose, z, choice)
        return self._next_id

    def has_pending(self) -> bool:
        """Whether requests wait to be rendered (the one rendering now not counted)."""
        return self._worker.has_pending()

    def close(self, ms: int = 10_000) -> bool:
        self._worker.stop()
        return self._thread is None or self._thread.wait(ms)
