"""Training in a QThread: the worker that runs core's RunSession, and the session object
the window drives (start, pause, step, resume, stop, live edits).

The worker emits only Qt-free payloads (core's frozen RunStarted, Report, Preview, Snapshot,
Probe, Quality, TrainingWarning and RunResult). The run never returns to the worker
thread's event loop while it trains, so control goes through core's thread-safe
TrainControl, not through queued slots.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ganstudio.core.runs.job import RunJob, RunResult, RunSink, RunStarted
from ganstudio.core.training.control import TrainControl
from ganstudio.gui.threads import start_thread

if TYPE_CHECKING:
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.quality.warnings import TrainingWarning
    from ganstudio.core.training.events import Preview, Probe, Report, Snapshot

log = logging.getLogger(__name__)


class TrainingSignals(QObject):
    """What a run tells the window: status lines, dataset progress, RunStarted, core's
    Report, Preview, Snapshot, Probe, Quality and TrainingWarning, then RunResult."""

    status = Signal(str)
    data_progress = Signal(int, int)
    started = Signal(object)  # core.runs.job.RunStarted
    report = Signal(object)  # core.training.events.Report
    preview = Signal(object)  # core.training.events.Preview
    snapshot = Signal(object)  # core.training.events.Snapshot
    warning = Signal(object)  # core.quality.warnings.TrainingWarning
    probe = Signal(object)  # core.training.events.Probe: D's view, the 2-D field
    quality = Signal(object)  # core.quality.monitor.Quality: metrics measured during the run
    finished = Signal(object)  # core.runs.job.RunResult


class SignalSink(RunSink):
    """The session's sink in the training thread: every call becomes a (queued) signal."""

    def __init__(self, signals: TrainingSignals) -> None:
        self.signals = signals

    def status(self, text: str) -> None:
        self.signals.status.emit(text)

    def data_progress(self, done: int, total: int) -> None:
        self.signals.data_progress.emit(done, total)

    def started(self, info: RunStarted) -> None:
        self.signals.started.emit(info)

    def report(self, report: Report) -> None:
        self.signals.report.emit(report)

    def preview(self, preview: Preview) -> None:
        self.signals.preview.emit(preview)

    def snapshot(self, snapshot: Snapshot) -> None:
        self.signals.snapshot.emit(snapshot)

    def probe(self, probe: Probe) -> None:
        self.signals.probe.emit(probe)

    def quality(self, quality: Quality) -> None:
        self.signals.quality.emit(quality)

    def warning(self, warning: TrainingWarning) -> None:
        self.signals.warning.emit(warning)

    def finished(self, result: RunResult) -> None:
        self.signals.finished.emit(with_resume_hint(result))


def with_resume_hint(result: RunResult) -> RunResult:
    """A failed run's message, ending with where the window can continue from."""
    if result.ok or result.last_checkpoint is None:
        return result
    name = Path(result.last_checkpoint).name
    hint = f" The last good checkpoint is {name}: File > Resume run... continues from it."
    return replace(result, message=result.message + hint)


class TrainingWorker(TrainingSignals):
    """Lives in the training thread: ``run`` drives core's RunSession to its end."""

    def __init__(self, job: RunJob, control: TrainControl) -> None:
        super().__init__()
        self.job = job
        self.control = control

    @Slot()
    def run(self) -> None:
        from ganstudio.core.runs.session import RunSession

        # At the window's own priority: a lower one starves the training team beside a busy
        # program (core.threads).
        try:
            RunSession(self.job, self.control, SignalSink(self)).run()
        finally:
            QThread.currentThread().quit()


class TrainingSession(TrainingSignals):
    """The GUI thread's handle on one training run at a time.

    Signals are re-emitted in the GUI thread. ``state``: idle, starting, running, paused,
    stopping.
    """

    state_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self.control: TrainControl | None = None
        self._worker: TrainingWorker | None = None
        self._thread: QThread | None = None
        self.slow_motion = False
        self.probes_watched = True

    def set_probes_watched(self, watched: bool) -> None:
        """Whether the probes are on screen now: unseen, the run makes fewer of them."""
        self.probes_watched = bool(watched)
        if self.control is not None:
            self.control.probes_watched = self.probes_watched

    def set_slow_motion(self, on: bool) -> None:
        """While paused, Step runs half a step: D's update, then (next Step) G's."""
        self.slow_motion = bool(on)
        if self.control is not None:
            self.control.slow_motion = self.slow_motion

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    @property
    def active(self) -> bool:
        return self.state != "idle"

    def start(self, job: RunJob) -> None:
        if self.active:
            raise RuntimeError("a training run is already going")
        self.control = TrainControl()
        self.control.slow_motion = self.slow_motion
        self.control.probes_watched = self.probes_watched
        worker = TrainingWorker(job, self.control)
        for name in (
            "status",
            "data_progress",
            "report",
            "preview",
            "snapshot",
            "warning",
            "probe",
            "quality",
        ):
            getattr(worker, name).connect(getattr(self, name).emit)
        worker.started.connect(self._on_started)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._set_state("starting")
        self._thread = start_thread(worker, worker.run, "training")

    def _on_started(self, info: RunStarted) -> None:
        if self.state == "starting":
            self._set_state("paused" if self.control and self.control.paused else "running")
        self.started.emit(info)

    def _on_finished(self, result: RunResult) -> None:
        if self._thread is not None:
            self._thread.wait(10_000)  # it has returned from run(): this is immediate
        self._worker = None
        self._thread = None
        self.control = None
        self._set_state("idle")
        self.finished.emit(result)

    def pause(self) -> None:
        if self.control and self.state == "running":
            self.control.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self.control and self.state == "paused":
            self.control.resume()
            self._set_state("running")

    def step(self, n: int = 1) -> None:
        """One iteration (d_steps D updates, one G update), then stay paused."""
        if self.control and self.state in ("running", "paused"):
            self.control.step(n)
            self._set_state("paused")

    def stop(self, save: bool = True, measure: bool = True) -> None:
        """End the run after its current step; ``save`` False: without the final checkpoint
        and model file; ``measure`` False: without the final quality measurement."""
        if self.control and self.active:
            self.control.stop(save=save, measure=measure)
            self._set_state("stopping")

    def set_live(self, **edits) -> None:
        """Learning rates and D steps, applied between two steps."""
        if self.control and self.active:
            self.control.set(**edits)

    def wait(self, ms: int = 5000) -> bool:
        """Block until the training thread has ended (True), or ``ms`` passed (False)."""
        return self._thread is None or self._thread.wait(ms)
