"""The one driver of a training run, for every front end.

``RunSession(job, control, sink).run()`` loads the data, builds (or resumes) the trainer,
writes the run folder, trains until the budget is spent, the control says stop or training
fails, saves what is worth keeping, and ends the run's log with exactly one ``end`` record,
whatever happened: a finished budget, a stop, NaN losses, running out of memory, a user's
error, a lost torchrun peer or a bug. It never raises for any of these: the ``RunResult``
(also handed to ``sink.finished``, exactly once) says how the run ended.

The run folder belongs to one process at a time: the session locks it (core.runs.lock)
before any work and unlocks it when the run has ended, however it ended; a folder another
process trains into is refused as the user's error, like a new run's ``out`` that holds a run
already, or a resumed run's ``out`` that holds another run than the checkpoint's.

The command line is a printing sink, the window's training thread a sink that emits Qt
signals, each torchrun process a sink too (only rank 0 writes files, reports and locks).
"""

from __future__ import annotations

import gc
import logging
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganstudio.core.choices import largest_auto_size
from ganstudio.core.config import TrainConfig
from ganstudio.core.data import Dataset, load_dataset
from ganstudio.core.device import pick_device
from ganstudio.core.errors import error_message, is_user_error
from ganstudio.core.quality.monitor import Quality, QualityMonitor
from ganstudio.core.quality.warnings import TrainingWarning
from ganstudio.core.runs.job import RunJob, RunResult, RunSink, RunStarted
from ganstudio.core.runs.layout import new_run_folder
from ganstudio.core.runs.lock import RunLock, torchrun_attempt
from ganstudio.core.runs.reader import (
    RunFolderError,
    check_run_folder,
    checkpoint_home,
    find_checkpoint,
    holds_run,
    latest_checkpoint,
    run_folder_of,
    same_folder,
)
from ganstudio.core.runs.writer import RunWriter
from ganstudio.core.training.checkpoint import (
    Checkpoint,
    model_description,
    read_checkpoint,
    resume,
    trained_size,
)
from ganstudio.core.training.control import TrainControl
from ganstudio.core.training.events import Outcome, Preview, Report
from ganstudio.core.training.init_from import read_start_networks
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

if TYPE_CHECKING:
    from ganstudio.core.training.distributed import Cluster

log = logging.getLogger(__name__)


def data_notes(extra: dict[str, Any]) -> tuple[str, ...]:
    """What a user should know about the data as it was loaded (DatasetInfo.extra)."""
    notes: list[str] = []
    if extra.get("skipped"):
        first = extra["skipped_examples"][0]
        notes.append(
            f"skipped {extra['skipped']} unreadable file(s), e.g. {first[0]} ({first[1]}); "
            "`ganstudio data inspect` lists them"
        )
    if extra.get("detected_range"):
        notes.append(f"pixel values detected as {extra['detected_range']}")
    return tuple(notes)


class FolderTaken(RunFolderError):
    """The run folder asked for already holds another run."""


class RunSession:
    """Drives one run (see the module docstring). ``cluster``: this process's place in a
    torchrun job; only its main process writes the run folder and reports."""

    def __init__(
        self,
        job: RunJob,
        control: TrainControl | None = None,
        sink: RunSink | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.job = job
        self.control = control or TrainControl()
        self.sink = sink or RunSink()
        self.cluster = cluster
        self.main = cluster is None or cluster.is_main
        self.trainer: Trainer | None = None
        self.folder: Path | None = None
        self._lock: RunLock | None = None  # held on the run folder while the run goes

    # ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Set up, train and end the run; the result goes to ``sink.finished`` too."""
        gc.freeze()  # keeps setting up from pausing another thread (the window's)
        try:
            result = self._run()
        finally:
            gc.unfreeze()
            self._release()  # before finished: the front end may start the next run there
        self.sink.finished(result)
        return result

    def _run(self) -> RunResult:
        try:
            trainer, writer, ckpt = self._set_up()
        except Exception as exc:  # nothing was written yet: there is no log to end
            if not is_user_error(exc):
                log.error("the run could not start:\n%s", traceback.format_exc())
            return RunResult(
                "failed",
                error_message(exc),
                0,
                str(self.folder) if self.folder else None,
                user_error=is_user_error(exc),
            )
        if trainer is None:
            return RunResult("stopped", "stopped before the first step", 0)
        self._announce(trainer, ckpt)
        # Everything allocated so far (the engine, the networks, the data) lives for the
        # whole run: freezing it keeps the garbage collector's full passes short.
        gc.freeze()
        outcome: Outcome | None = None
        model: Path | None = None
        try:
            outcome = self._train(trainer, writer)
            model = self._save(trainer, writer, outcome)
        except Exception as exc:  # a bug, or a disk that filled up while saving
            if not is_user_error(exc):
                log.error("training stopped by an unexpected error:\n%s", traceback.format_exc())
            outcome = Outcome("failed", error_message(exc), trainer.step)
        finally:
            if writer is not None:
                # The one end record (an interrupted save still ends the log).
                writer.finish(outcome or Outcome("failed", "interrupted", trainer.step))
        last = None
        if not outcome.ok and self.folder is not None:
            newest = latest_checkpoint(self.folder)
            last = str(newest) if newest is not None else None
        return RunResult(
            outcome.status,
            outcome.message,
            outcome.step,
            str(self.folder) if self.folder else None,
            str(model) if model else None,
            lost_contact=outcome.lost_contact,
            last_checkpoint=last,
        )

    # ------------------------------------------------------------------------------
    def _set_up(self) -> tuple[Trainer | None, RunWriter | None, Checkpoint | None]:
        job, sink = self.job, self.sink
        ckpt = None
        folder: Path | None = None
        if job.resume is not None:
            sink.status(f"Opening {job.resume} ...")
            ckpt = read_checkpoint(find_checkpoint(job.resume))
            saved = ckpt.meta["config"]
            spec = job.dataset_spec or saved["dataset"]
            if self.main:  # the folder is taken (and checked) before any work
                folder = self._resumed_folder(ckpt, spec)
                self._take(folder)
                self._check_resume_target(folder, ckpt)
                check_run_folder(folder)
            sink.status(f"Resuming {ckpt.path} at step {ckpt.step}; preparing {spec} ...")
            dataset = job.dataset or self._load(spec, int(saved.get("seed", 0)), trained_size(ckpt))
            overrides = {
                k: v
                for k, v in (
                    ("steps", job.steps),
                    ("minutes", job.minutes),
                    ("dataset", job.dataset_spec),
                    ("device", job.device),
                )
                if v is not None
            }
            trainer = resume(ckpt, dataset, self.control, cluster=self.cluster, **overrides)
        else:
            assert job.config is not None
            cfg = job.config
            if cfg.init_from:  # a run folder starts from its newest checkpoint
                cfg = cfg.with_updates(init_from=str(find_checkpoint(cfg.init_from)))
            if job.out is not None and self.main:  # refuse a taken folder before any work
                folder = Path(job.out)
                self._take(folder)
                self._check_fresh(folder)
            if job.dataset is None:
                sink.status(f"Preparing {cfg.dataset} ...")
            dataset = job.dataset or self._load(cfg.dataset, cfg.seed, self._largest_size(cfg))
            sink.status("Building the networks ...")
            trainer = Trainer(cfg, dataset, self.control, cluster=self.cluster)
            if folder is None and self.main:
                folder = self._new_folder(trainer.config.dataset)
                self._take(folder)
                self._check_fresh(folder)
        self.trainer = trainer
        if self.control.stopped:
            return None, None, ckpt
        self.folder = folder
        writer = None
        if folder is not None and self.main:
            writer = RunWriter(
                folder,
                trainer,
                preview_every=job.preview_every,
                checkpoint_every=job.checkpoint_every,
                keep=job.keep_checkpoints,
                resumed_from=ckpt,
            )
        return trainer, writer, ckpt

    def _take(self, folder: Path) -> None:
        """Lock the run folder for this process for the whole run (RunFolderBusy when
        another process trains there); under torchrun only the main process, which writes."""
        attempt = torchrun_attempt() if self.cluster is not None else None
        self._lock = RunLock.acquire(folder, torchrun=attempt)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _largest_size(self, cfg: TrainConfig) -> int:
        """The largest automatic picture size of a new run: the starting model's size when it
        starts from one, else the device's (64 px on the CPU, 256 px on a GPU)."""
        if cfg.init_from:
            shape = read_start_networks(cfg.init_from).sample_shape
            if len(shape) == 3:
                return shape[-1]
        device = self.cluster.device if self.cluster else pick_device(cfg.device)
        return largest_auto_size(device.type != "cpu")

    def _load(self, spec: str, seed: int, largest: int | None) -> Dataset:
        """load_dataset (pictures given no size at most ``largest`` px); under torchrun the
        first process on each machine prepares the data (and fills the dataset cache) while
        the others wait, then they read the cache."""
        cluster, progress = self.cluster, self.sink.data_progress
        if cluster is None:
            return load_dataset(spec, seed=seed, progress=progress, largest_auto_size=largest)
        if cluster.local_rank != 0:
            cluster.barrier()
        try:
            return load_dataset(spec, seed=seed, progress=progress, largest_auto_size=largest)
        finally:
            if cluster.local_rank == 0:
                cluster.barrier()

    def _new_folder(self, spec: str) -> Path:
        """A fresh folder under the job's runs_dir, for a new run without ``out``."""
        if self.job.runs_dir is None:
            raise RunFolderError("no run folder given")
        return new_run_folder(self.job.runs_dir, spec)

    def _check_fresh(self, out: Path) -> None:
        """A new run never writes into another run's folder (its log and checkpoints); a
        torchrun job restarted before its first checkpoint reuses its own."""
        if not self.job.restarted and holds_run(out):
            raise FolderTaken(
                f"{out} already holds a run: continue it with --resume {out}, or give another --out"
            )

    def _check_resume_target(self, out: Path, ckpt: Checkpoint) -> None:
        """A resumed run continues in its own folder, or in one that holds no run yet: never
        in another run's (its config, log, model and checkpoints would be mixed)."""
        home = checkpoint_home(ckpt.path)
        if home is not None and same_folder(out, home):
            return
        if holds_run(out):
            where = f"leave --out out to continue in {home}, or " if home is not None else ""
            raise FolderTaken(
                f"{out} already holds another run, which resuming {ckpt.path} there would "
                f"overwrite: {where}give --out a new or empty folder"
            )

    def _resumed_folder(self, ckpt: Checkpoint, spec: str) -> Path:
        job = self.job
        if job.out is not None:
            return Path(job.out)
        folder = run_folder_of(ckpt.path)
        if folder is not None:
            return folder
        if job.runs_dir is None:
            raise RunFolderError(
                f"{ckpt.path} is not inside a run folder: say where the resumed run goes with --out"
            )
        return new_run_folder(job.runs_dir, spec)

    def _announce(self, trainer: Trainer, ckpt: Checkpoint | None) -> None:
        if not self.main:
            return
        steps, stats = trainer.history()
        info = trainer.info
        self.sink.started(
            RunStarted(
                run_folder=str(self.folder),
                config=trainer.config.to_dict(),
                dataset=info.to_dict(),
                device=str(trainer.device),
                bf16=trainer.amp,
                step=trainer.step,
                total_steps=trainer.resolved.steps,
                probabilistic=trainer.loss.probabilistic,
                notes=tuple(trainer.config.notes) if ckpt is None else (),
                warnings=tuple(trainer.resume_notes),
                history_steps=steps.copy(),
                history_stats=stats.copy(),
                real_points=None if info.is_image else trainer.data.data[:1000].cpu().numpy(),
                modes=tuple(info.modes),
                model_meta=model_description(trainer),
                resumed=ckpt is not None,
                processes=trainer.world_size,
                data_notes=data_notes(info.extra),
            )
        )
        self.sink.status("Training")

    def _train(self, trainer: Trainer, writer: RunWriter | None) -> Outcome:
        sink = self.sink
        if writer is None:  # another process of a torchrun job: it only trains
            return run_training(trainer)

        def warn(warnings: list[TrainingWarning]) -> None:
            for w in warnings:
                sink.warning(w)

        def on_report(r: Report) -> None:
            warn(writer.on_report(r))
            sink.report(r)

        def on_preview(p: Preview) -> None:
            warn(writer.on_preview(p))
            sink.preview(p)

        def on_quality(q: Quality) -> None:
            warn(writer.on_quality(q))
            sink.quality(q)

        monitor = (
            QualityMonitor(on_quality, interval=self.job.metrics_every)
            if self.job.metrics_every > 0
            else None
        )
        outcome = run_training(
            trainer,
            on_report=on_report,
            on_preview=on_preview,
            on_snapshot=sink.snapshot if sink.wants_snapshots else None,
            on_probe=sink.probe if sink.wants_probes else None,
            tasks=(monitor,) if monitor is not None else (),
        )
        if monitor is not None and outcome.ok and self.control.measure_at_end:
            # One measurement of what the run leaves, however short it was (a stop without
            # it, asked for while it runs, cuts it short).
            sink.status("Measuring the final samples ...")
            monitor.final(trainer, cancelled=lambda: not self.control.measure_at_end)
        return outcome

    def _save(self, trainer: Trainer, writer: RunWriter | None, outcome: Outcome) -> Path | None:
        """The final checkpoint (whenever the weights are fine) and the model file (when
        the run did not fail), unless the control said to stop without saving."""
        if writer is None or not self.control.save_at_end:
            return None
        if outcome.ok or outcome.lost_contact:
            self.sink.status("Saving ...")
            writer.save_checkpoint()
        return writer.save_generator() if outcome.ok else None
