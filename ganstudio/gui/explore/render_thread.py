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

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ganstudio.core.errors import error_message
from ganstudio.gui.threads import start_thread

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


class RenderWorker(QObject):
    rendered = Signal(object)
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, np.ndarray, float]] = {}
        self._source: tuple[int, object] | None = None  # (version, GeneratorFile | Snapshot)
        self._stop = False

    # -- any thread ----------------------------------------------------------------------
    def submit(self, request_id: int, purpose: str, z: np.ndarray) -> None:
        with self._cond:
            self._pending[purpose] = (request_id, z, time.perf_counter())
            self._cond.notify()

    def set_source(self, version: int, source: object) -> None:
        with self._cond:
            self._source = (version, source)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    # -- the render thread -----------------------------------------------------------------
    @Slot()
    def loop(self) -> None:
        module, version, is_image = None, -1, True
        try:
            while True:
                with self._cond:
                    while not self._stop and not (self._pending and self._source):
                        self._cond.wait()
                    if self._stop:
                        return
                    purpose = next(p for p in PURPOSES if p in self._pending)
                    request_id, z, asked = self._pending.pop(purpose)
                    source_version, source = self._source
                if source_version != version:
                    module, is_image = _build(source)
                    version = source_version
                try:
                    t0 = time.perf_counter()
                    images, points = _render(module, z, is_image)
                    self.rendered.emit(
                        RenderResult(
                            request_id,
                            purpose,
                            z,
                            images,
                            points,
                            version,
                            time.perf_counter() - t0,
                            asked,
                        )
                    )
                except Exception as exc:
                    log.warning("render failed:\n%s", traceback.format_exc())
                    self.failed.emit(error_message(exc))
        finally:
            QThread.currentThread().quit()


def _build(source: object):
    """(module in eval mode, is_image) from a core GeneratorFile or a training Snapshot."""
    if hasattr(source, "module"):  # GeneratorFile
        return source.module.eval(), source.is_image
    import torch

    from ganstudio.core.models import build

    module = build(source.spec)
    state = module.state_dict()
    for key, value in source.state.items():
        state[key] = torch.from_numpy(value).to(state[key].dtype)
    module.load_state_dict(state)
    module.eval().requires_grad_(False)
    return module, bool(getattr(module, "is_image", True))


def _render(module, z: np.ndarray, is_image: bool):
    """Batched exactly as core.explore.exports renders, so the window's pictures equal the CLI's."""
    import torch

    from ganstudio.core.explore.exports import _RENDER_BATCH
    from ganstudio.core.explore.sampling import generate
    from ganstudio.core.render import to_uint8

    out = generate(module, torch.from_numpy(z), batch=_RENDER_BATCH)
    if is_image:
        return to_uint8(out), None
    return None, out.float().numpy()


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

    def set_generator(self, source: object) -> None:
        """A GeneratorFile (opened model) or a training Snapshot; the next render uses it."""
        if self._thread is None:
            from PySide6.QtCore import QCoreApplication

            self._thread = start_thread(self._worker, self._worker.loop, "render")
            app = QCoreApplication.instance()
            if app is not None:  # never leave the thread running when the program quits
                app.aboutToQuit.connect(self.close)
        self.version += 1
        self._worker.set_source(self.version, source)

    def request(self, purpose: str, z: np.ndarray) -> int:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown render purpose {purpose!r}")
        self._next_id += 1
        z = np.ascontiguousarray(np.asarray(z, np.float32).reshape(-1, z.shape[-1]))
        self._worker.submit(self._next_id, purpose, z)
        return self._next_id

    def close(self, ms: int = 10_000) -> bool:
        self._worker.stop()
        return self._thread is None or self._thread.wait(ms)
