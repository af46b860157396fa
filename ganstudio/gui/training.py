"""Training in a QThread: the worker that runs the core Trainer, and the session object the
window drives (start, pause, step, resume, stop, live edits).

The worker emits only Qt-free payloads (core's frozen Report/Preview/Snapshot dataclasses and
the two below). The trainer loop never returns to the worker thread's event loop while it
runs, so control goes through core's thread-safe TrainControl, not through queued slots.
"""

from __future__ import annotations

import gc
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ganstudio.core.control import TrainControl
from ganstudio.gui.threads import error_message, start_thread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingJob:
    """What to train. ``config``: TrainConfig fields; or ``resume``: a run folder/checkpoint."""

    runs_dir: str
    config: dict | None = None
    dataset: object | None = None  # a prepared core Dataset to reuse (else it is loaded)
    resume: str | None = None
    resume_steps: int | None = None  # a new step budget for a resumed run
    checkpoint_every: float = 300.0  # seconds
    metrics_every: float = 120.0  # seconds between quality measurements; 0: none


@dataclass(frozen=True)
class Started:
    """Sent once training is set up, before the first step."""

    run_folder: str
    config: dict  # the resolved settings
    dataset: dict  # DatasetInfo.to_dict()
    device: str
    bf16: bool
    step: int
    total_steps: int
    probabilistic: bool  # D(x), D(G(z)) are probabilities (else critic scores)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # from resuming: a changed dataset, another device
    history_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # (n, 6) in core.events.STAT_NAMES order (not imported: it would load PyTorch)
    history_stats: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    real_points: np.ndarray | None = None  # 2-D: real samples for the scatter
    modes: tuple = ()
    model_meta: dict = field(default_factory=dict)  # for saving a model file from a snapshot
    resumed: bool = False  # settings come from a checkpoint, not from the set-up panel


@dataclass(frozen=True)
class Finished:
    status: str  # completed | stopped | failed
    message: str
    step: int
    run_folder: str | None = None
    model_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class TrainingSignals(QObject):
    """What a run tells the window: status lines, dataset progress, Started, core's Report,
    Preview and Snapshot, then Finished."""

    status = Signal(str)
    data_progress = Signal(int, int)
    started = Signal(object)
    report = Signal(object)
    preview = Signal(object)
    snapshot = Signal(object)
    warning = Signal(object)  # core.diagnostics.TrainingWarning
    probe = Signal(object)  # core.events.Probe: D's view, the 2-D field
    quality = Signal(object)  # core.events.Quality: metrics measured during the run
    finished = Signal(object)


class TrainingWorker(TrainingSignals):
    """Lives in the training thread. ``run`` sets up the trainer and trains until done."""

    def __init__(self, job: TrainingJob, control: TrainControl) -> None:
        super().__init__()
        self.job = job
        self.control = control
        self.save_at_end = True  # False: stop without writing the final checkpoint and model
        self._folder: Path | None = None

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(self._train())
        except Exception as exc:
            log.warning("training could not run:\n%s", traceback.format_exc())
            self.finished.emit(
                Finished(
                    "failed",
                    error_message(exc),
                    0,
                    str(self._folder) if self._folder else None,
                )
            )
        finally:
            QThread.currentThread().quit()

    def _load(self, spec: str, seed: int):
        from ganstudio.core.data import load_dataset

        self.status.emit(f"Preparing {spec} ...")
        return load_dataset(spec, seed=seed, progress=self.data_progress.emit)

    def _train(self) -> Finished:
        from ganstudio.core.checkpoint import model_description, read_checkpoint, resume
        from ganstudio.core.config import TrainConfig
        from ganstudio.core.runfolder import RunWriter
        from ganstudio.core.runfolder_names import new_run_folder
        from ganstudio.core.runs import find_checkpoint, run_folder_of
        from ganstudio.core.trainer import Trainer

        job = self.job
        ckpt = None
        gc.freeze()  # see below; also keeps setting up from pausing the window
        if job.resume:
            self.status.emit(f"Opening {job.resume} ...")
            ckpt = read_checkpoint(find_checkpoint(job.resume))
            cfg_dict = ckpt.meta["config"]
            dataset = job.dataset or self._load(cfg_dict["dataset"], int(cfg_dict["seed"]))
            overrides = {"steps": job.resume_steps} if job.resume_steps else {}
            trainer = resume(ckpt, dataset, self.control, **overrides)
            folder = run_folder_of(ckpt.path) or new_run_folder(job.runs_dir, cfg_dict["dataset"])
        else:
            cfg = TrainConfig.from_dict(job.config or {})
            dataset = job.dataset or self._load(cfg.dataset, cfg.seed)
            self.status.emit("Building the networks ...")
            trainer = Trainer(cfg, dataset, self.control)
            folder = new_run_folder(job.runs_dir, cfg.dataset)
        if self.control.stopped:
            return Finished("stopped", "stopped before the first step", trainer.step)
        self._folder = folder
        writer = RunWriter(
            folder, trainer, checkpoint_every=job.checkpoint_every, resumed_from=ckpt
        )
        steps, stats = trainer.history()
        info = trainer.info
        self.started.emit(
            Started(
                run_folder=str(folder),
                config=trainer.config.to_dict(),
                dataset=info.to_dict(),
                device=str(trainer.device),
                bf16=trainer.amp,
                step=trainer.step,
                total_steps=trainer.config.steps,
                probabilistic=trainer.loss.probabilistic,
                notes=tuple(trainer.config.notes) if ckpt is None else (),
                warnings=tuple(trainer.resume_notes),
                history_steps=steps.copy(),
                history_stats=stats.copy(),
                real_points=None if info.is_image else trainer.data.data[:1000].cpu().numpy(),
                modes=tuple(info.modes),
                model_meta=model_description(trainer),
                resumed=ckpt is not None,
            )
        )
        self.status.emit("Training")
        # Everything allocated so far (the engine, the networks, the data) lives for the whole
        # run: freezing it keeps the garbage collector's full passes short, which would
        # otherwise pause both threads for ~100 ms while they walk it. Undone at the end.
        gc.freeze()

        def on_report(r) -> None:
            for w in writer.on_report(r):
                self.warning.emit(w)
            self.report.emit(r)

        def on_preview(p) -> None:
            for w in writer.on_preview(p):
                self.warning.emit(w)
            self.preview.emit(p)

        def on_quality(q) -> None:
            for w in writer.on_quality(q):
                self.warning.emit(w)
            self.quality.emit(q)

        tasks = ()
        if job.metrics_every > 0:
            from ganstudio.core.quality import QualityMonitor

            tasks = (QualityMonitor(on_quality, interval=job.metrics_every),)

        outcome = None
        try:
            outcome = trainer.run(
                on_report=on_report,
                on_preview=on_preview,
                on_snapshot=self.snapshot.emit,
                on_probe=self.probe.emit,
                tasks=tasks,
            )
            model = None
            if outcome.ok and self.save_at_end:
                self.status.emit("Saving ...")
                writer.save_checkpoint()
                model = str(writer.save_generator())
        finally:
            gc.unfreeze()
            if outcome is None:  # an unexpected error: the log still says how the run ended
                from ganstudio.core.events import Outcome

                writer.finish(Outcome("failed", "unexpected error", trainer.step))
        writer.finish(outcome)
        message = outcome.message
        if not outcome.ok:
            from ganstudio.core.runs import latest_checkpoint

            last = latest_checkpoint(folder)
            if last is not None:
                message += (
                    f" The last good checkpoint is {last.name}: File > Resume run... "
                    "continues from it."
                )
        return Finished(outcome.status, message, outcome.step, str(folder), model)


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

    def start(self, job: TrainingJob) -> None:
        if self.active:
            raise RuntimeError("a training run is already going")
        self.control = TrainControl()
        self.control.slow_motion = self.slow_motion
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

    def _on_started(self, info: Started) -> None:
        if self.state == "starting":
            self._set_state("paused" if self.control and self.control.paused else "running")
        self.started.emit(info)

    def _on_finished(self, result: Finished) -> None:
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

    def stop(self, save: bool = True) -> None:
        if self.control and self.active:
            if self._worker is not None and not save:
                self._worker.save_at_end = False
            self.control.stop()
            self._set_state("stopping")

    def set_live(self, **edits) -> None:
        """Learning rates and D steps, applied between two steps."""
        if self.control and self.active:
            self.control.set(**edits)

    def wait(self, ms: int = 5000) -> bool:
        """Block until the training thread has ended (True), or ``ms`` passed (False)."""
        return self._thread is None or self._thread.wait(ms)
