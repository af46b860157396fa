"""The run: steps until the budget is spent, the control says stop, or training fails.

Between steps it hands out reports (every ``report_interval``), previews with their
snapshots, and probes (each kind spaced so it takes at most its budget of the wall time, and
comes at least ``preview_interval`` apart; see ``Spacing``), runs background tasks
(each keeps its own budget; a preview that would come due during one is sent before it),
obeys pause/step/stop and live edits, and in slow motion runs
each step as two halves: the discriminator's update, a pause, then the generator's.

Under torchrun (``trainer.cluster``) there is no pausing: the processes agree every
SYNC_EVERY steps whether to stop, so none leaves the loop while the others wait for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import torch

from ganstudio.core.spacing import Spacing
from ganstudio.core.training.distributed import SYNC_EVERY, is_lost_contact, short_error
from ganstudio.core.training.events import Outcome, Preview, Probe, Report, Snapshot
from ganstudio.core.training.probes import take_probe
from ganstudio.core.training.thread_tuner import timed, tuner_for
from ganstudio.core.training.trainer import DHalf, Trainer

log = logging.getLogger(__name__)

# Largest share of wall time that previews (with their snapshots) may take, and probes;
# probes nobody looks at (TrainControl.probes_watched False) take a quarter of theirs: the
# Diagnose tab's history still gets a column every few seconds.
PREVIEW_BUDGET = 0.02
PROBE_BUDGET = 0.02
PROBE_UNSEEN_BUDGET = 0.005
# The live samples are half of what the window is for: a new preview at least every
# PREVIEW_CADENCE seconds (the window's target is 2 s, less the time to deliver and draw
# it), even where that takes more than PREVIEW_BUDGET of the time (a machine whose other
# programs slow everything down), up to PREVIEW_MOST of it.
PREVIEW_CADENCE = 1.5
PREVIEW_MOST = 0.1


ReportFn = Callable[[Report], None]
PreviewFn = Callable[[Preview], None]
SnapshotFn = Callable[[Snapshot], None]
ProbeFn = Callable[[Probe], None]


class Task(Protocol):
    """Background work (quality metrics), called after reports with the trainer; it spaces
    itself. Its pieces run in the training thread, so a preview due meanwhile would wait for
    one: ``upcoming()`` says how long the next call will take (0 when it has nothing due),
    and a preview that would come due within that time is sent before the call."""

    def __call__(self, trainer: Trainer, /) -> None: ...

    def upcoming(self) -> float: ...


class TrainingFailed(RuntimeError):
    """Training cannot go on (NaN loss, out of memory); the message says why and what to try."""


def run_training(
    trainer: Trainer,
    on_report: ReportFn | None = None,
    on_preview: PreviewFn | None = None,
    on_snapshot: SnapshotFn | None = None,
    on_probe: ProbeFn | None = None,
    tasks: tuple[Task, ...] = (),
) -> Outcome:
    """Train ``trainer`` (see the module docstring). Never raises for a failure a user can
    cause: the Outcome says what happened."""
    cfg, control, cluster = trainer.config, trainer.control, trainer.cluster
    half: DHalf | None = None  # slow motion: D's half done, G's half still to come
    phase = ""
    updates = shown = 0  # halves or whole steps done; the count the last preview showed

    def emit_report() -> None:
        report = trainer.flush_report()
        if report is not None and on_report is not None:
            on_report(report)
        if trainer.failure is not None and cluster is None:  # else: at the next agreement
            raise TrainingFailed(trainer.failure)

    # Previews cost a generator forward pass (and whatever the callbacks do), probes a
    # discriminator pass over a grid of the plane or a batch of images: each is spaced on
    # its own, so that a costly probe never holds back the live samples, and neither takes
    # more than its budget of the time: training speed comes first.
    previews = Spacing(PREVIEW_BUDGET, PREVIEW_CADENCE, PREVIEW_MOST)
    probes = Spacing(PROBE_BUDGET)

    def emit_preview(force: bool = False, lead: float = 0.0) -> None:
        """Send a preview and a probe when each is due; ``lead``: the preview also when it
        comes due within that many seconds (the time a task is about to take)."""
        nonlocal shown
        interval = trainer.config.preview_interval
        t0 = time.perf_counter()
        wanted = on_preview is not None or on_snapshot is not None
        if (force or previews.due(t0 + lead)) and wanted:
            shown = updates
            trainer.version += 1
            if on_preview is not None:
                on_preview(trainer.preview())
            if on_snapshot is not None:
                on_snapshot(trainer.snapshot())
            now = time.perf_counter()
            previews.ran(now - t0, now, interval)
        t0 = time.perf_counter()
        watched = control.probes_watched
        unseen = probes.budget == PROBE_UNSEEN_BUDGET
        if watched == unseen:  # the user switched to or away from the probes
            probes.budget = PROBE_BUDGET if watched else PROBE_UNSEEN_BUDGET
            if watched:
                probes.next = 0.0  # looked at again: a fresh probe now
        if on_probe is not None and (force or probes.due(t0)):
            shown = updates
            on_probe(take_probe(trainer, phase))
            now = time.perf_counter()
            probes.ran(now - t0, now, interval)

    blocked = False
    # On the CPU, with the adaptive thread policy: the thread count follows the machine's load.
    tuner = tuner_for(trainer.device.type, cluster is not None)

    def on_pause() -> None:
        nonlocal blocked
        blocked = True
        emit_report()
        if shown != updates:
            emit_preview(force=True)

    try:
        emit_preview(force=True)
        trainer.restart_clock()
        # Under torchrun the processes' clocks differ: they agree on the time budget too.
        while trainer.step < trainer.resolved.steps and (
            cluster is not None or not trainer.out_of_time()
        ):
            if cluster is not None:
                if trainer.step % SYNC_EVERY == 0:
                    stop, failed = cluster.any(
                        control.stopped or trainer.out_of_time(), trainer.failure is not None
                    )
                    if failed:
                        raise TrainingFailed(
                            trainer.failure or "another process of the job failed (see its error)"
                        )
                    if stop:
                        control.stop()
                        break
            elif not control.acquire_step(on_pause):
                break
            if blocked:  # paused time is not training time: restart the clock
                blocked = False
                trainer.restart_clock()
            if half is None:
                trainer.apply_edits(control.take_edits())
                cfg = trainer.config
            if control.slow_motion and control.paused and half is None:
                half, phase = trainer.d_half(), "d"  # shown when the trainer next waits
                updates += 1
                continue
            if half is not None:
                trainer.g_half(half)
                half, phase = None, "g"
            else:
                timed(trainer.train_step, tuner)
                phase = ""
            updates += 1
            if trainer.seconds_since_report() >= cfg.report_interval or control.paused:
                emit_report()
                if tasks:
                    lead = max(task.upcoming() for task in tasks)
                    if lead > 0:
                        emit_preview(lead=lead)
                    for task in tasks:
                        task(trainer)
                emit_preview(force=control.paused)
        emit_report()
        emit_preview(force=True)
    except TrainingFailed as exc:
        log.warning("training failed: %s", exc)
        return Outcome("failed", str(exc), trainer.step)
    except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
        if cluster is not None and is_lost_contact(exc):
            msg = (
                f"process {cluster.rank} lost contact with the other processes of the job at "
                f"step {trainer.step}: another process died or the network failed "
                f"({short_error(exc)})"
            )
            log.info(msg)
            return Outcome("failed", msg, trainer.step, lost_contact=True)
        if (
            not isinstance(exc, torch.cuda.OutOfMemoryError)
            and "out of memory" not in str(exc).lower()
        ):
            raise
        trainer.drop_pending()
        msg = (
            f"out of memory on {trainer.device} at step {trainer.step} with batch size "
            f"{trainer.resolved.batch_size}: lower the batch size or the model width"
        )
        log.warning(msg)
        return Outcome("failed", msg, trainer.step)
    finally:
        if tuner is not None:
            tuner.close()
    if control.stopped and not trainer.budget_spent():
        return Outcome("stopped", f"stopped at step {trainer.step}", trainer.step)
    minutes = trainer.config.minutes
    if minutes and trainer.step < trainer.resolved.steps:
        return Outcome(
            "completed",
            f"completed {minutes:g} minute(s) of training ({trainer.step:,} steps)",
            trainer.step,
        )
    return Outcome("completed", f"completed {trainer.step} steps", trainer.step)
