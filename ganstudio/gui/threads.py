"""Running work off the GUI thread: one QThread per task, results back as queued signals.

Every thread started here is registered, so the window (and the tests) can stop and wait for
all of them: no QThread is ever left running when the window closes.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, QThread, Signal, SignalInstance, Slot

from ganstudio.core.errors import error_message, is_user_error

log = logging.getLogger(__name__)


class _Registry(QObject):
    """Holds every started thread and its worker (created in the GUI thread) until the
    thread has finished, so neither is destroyed while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.alive: dict[int, tuple[QThread, QObject]] = {}

    def add(self, thread: QThread, worker: QObject) -> None:
        self.alive[id(thread)] = (thread, worker)
        thread.finished.connect(self.release, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def release(self) -> None:
        thread = self.sender()
        pair = self.alive.get(id(thread))
        if pair is not None and not pair[0].isRunning():
            del self.alive[id(thread)]


_registry: _Registry | None = None


def running_threads() -> list[QThread]:
    if _registry is None:
        return []
    return [t for t, _ in _registry.alive.values() if t.isRunning()]


def wait_all(ms: int = 5000) -> bool:
    """Wait for every running thread; True when none is left running."""
    return all(t.wait(ms) for t in running_threads())


def start_thread(
    worker: QObject,
    entry: Callable[[], None],
    name: str,
) -> QThread:
    """Move ``worker`` to a new QThread, call ``entry`` there; the worker quits the thread
    when its work is done (QThread.currentThread().quit()). Call from the GUI thread."""
    global _registry
    if _registry is None:
        _registry = _Registry()
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(entry)
    _registry.add(thread, worker)
    thread.start()
    return thread


class Outcomes(Protocol):
    """The signals a worker ends with (TaskWorker's, gui.explore.projection's)."""

    @property
    def done(self) -> SignalInstance: ...
    @property
    def failed(self) -> SignalInstance: ...
    @property
    def finished(self) -> SignalInstance: ...


def run_to_end(
    work: Callable[[], Any],
    worker: Outcomes,
    what: str,
    cancelled_by: type[BaseException],
    on_cancelled: Callable[[], object] = lambda: None,
) -> None:
    """In a worker's thread: run ``work`` and emit ``worker.done(result)`` or
    ``worker.failed(message)`` (a user's error as its message; a bug logged with its
    traceback too) or, when it raises ``cancelled_by``, call ``on_cancelled``; then
    ``worker.finished()``, and quit the thread."""
    try:
        result = work()
    except cancelled_by:
        on_cancelled()
    except Exception as exc:  # a user-caused error (bad folder, bad picture) or a bug: say it
        if not is_user_error(exc):
            log.error("%s failed:\n%s", what, traceback.format_exc())
        worker.failed.emit(error_message(exc))
    else:
        worker.done.emit(result)
    finally:
        worker.finished.emit()
        QThread.currentThread().quit()


class Cancelled(Exception):
    """Raised inside a task's progress callback once the task was cancelled."""


class TaskWorker(QObject):
    """Runs ``fn(progress)`` once in its thread; emits ``done(result)`` or ``failed(message)``.

    ``progress(done, total)`` may be called from ``fn`` to report progress.
    """

    done = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int)
    finished = Signal()

    def __init__(self, fn: Callable[[Callable[[int, int], None]], Any]) -> None:
        super().__init__()
        self._fn = fn
        self.cancel_requested = False  # set from the GUI thread; checked at each progress call

    def _progress(self, done: int, total: int) -> None:
        if self.cancel_requested:
            raise Cancelled
        self.progress.emit(int(done), int(total))

    @Slot()
    def run(self) -> None:
        run_to_end(lambda: self._fn(self._progress), self, "background task", Cancelled)


class Task(QObject):
    """A function run once in a background thread, owned by the GUI thread.

    Connect to ``done``/``failed``/``progress`` (delivered in the GUI thread), then call
    ``start``. ``cancel`` only drops the result: the function runs to its end.
    """

    done = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int)
    ended = Signal()  # the function has returned (after done or failed; also when cancelled)

    def __init__(
        self,
        fn: Callable[[Callable[[int, int], None]], Any],
        name: str,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._worker = TaskWorker(fn)
        self._name = name
        self._thread: QThread | None = None
        self.cancelled = False
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self.ended)

    def start(self) -> Task:
        self._thread = start_thread(self._worker, self._worker.run, self._name)
        return self

    def cancel(self) -> None:
        """Drop the result; work that reports progress also stops at its next report."""
        self.cancelled = True
        self._worker.cancel_requested = True

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def wait(self, ms: int = 30_000) -> bool:
        return self._thread is None or self._thread.wait(ms)

    def _on_done(self, result: object) -> None:
        if not self.cancelled:
            self.done.emit(result)

    def _on_failed(self, message: str) -> None:
        if not self.cancelled:
            self.failed.emit(message)

    def _on_progress(self, done: int, total: int) -> None:
        if not self.cancelled:
            self.progress.emit(done, total)


class TaskGroup(QObject):
    """The window's background tasks: each is kept until its function has returned, so the
    group can say whether any still runs (``busy``, and ``busy_changed`` when that changes:
    the status bar's busy indicator) and cancel them all when the window closes."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks: set[Task] = set()

    @property
    def busy(self) -> bool:
        return bool(self.tasks)

    def run(
        self,
        fn: Callable[[Callable[[int, int], None]], Any],
        name: str,
        done: Callable[[Any], object],
        failed: Callable[[str], object],
        progress: Callable[[int, int], object] | None = None,
    ) -> Task:
        """Start ``fn`` in a background thread; ``done(result)`` or ``failed(message)`` (and
        ``progress(done, total)``) arrive in the GUI thread."""
        task = Task(fn, name, self)
        task.done.connect(done)
        task.failed.connect(failed)
        if progress is not None:
            task.progress.connect(progress)
        was_busy = self.busy
        self.tasks.add(task)
        task.ended.connect(lambda: self._ended(task))
        if not was_busy:
            self.busy_changed.emit(True)
        return task.start()

    def _ended(self, task: Task) -> None:
        self.tasks.discard(task)
        if not self.tasks:
            self.busy_changed.emit(False)

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
