"""Durations as people read them on a progress line or a status bar (no PyTorch here)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol


def format_duration(seconds: float, unknown: str = "--:--") -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``; ``unknown`` for NaN, infinite or negative."""
    if not math.isfinite(seconds) or seconds < 0:
        return unknown
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class RemainingTime:
    """Time left to a step budget, from the training speed of a trailing window of training
    time: half the time trained so far, at least ``window`` and at most ``longest`` seconds.

    A report covers about 0.1 s, and one that holds a preview, a probe or a garbage
    collection reads several times slower than the run: an ETA from one report jumps. The
    average since the start lags behind a rate that changed (a learning-rate schedule, a busy
    machine) for as long as the run has lasted. A trailing window is neither. Its shortest,
    6 s, averages the occasional preview and quality measurement and leaves a run's slow
    first seconds (first allocations, the thread tuner's first trial) out of the ETA from
    10 s on (a 10 s window read 25% high at 10-12 s into a 38 s digits run on 2 cores).
    Growing with the run, it averages more of a desktop's speed swings (20-30% for a few
    seconds): replayed on the reports of 17 runs of 38-95 s (ring8 and digits on 2 cores),
    half the elapsed time lowered the worst error after 10 s in 14 runs and tied in 3 (ring8:
    0.14-0.36 against 0.19-0.64 for 6 s; digits 0.33-0.54 against 0.33-1.83, beside other
    work), the median error moving by -0.06 to +0.09. Capped at a minute, a busy machine's
    slower speed is the ETA's within a minute however long the run.
    """

    def __init__(self, window: float = 6.0, share: float = 0.5, longest: float = 60.0) -> None:
        self.window = window
        self.share = share
        self.longest = longest
        self._points: list[tuple[float, int]] = []  # (training seconds, step), oldest first

    def reset(self) -> None:
        self._points.clear()

    def update(
        self, step: int, elapsed: float, total: int, budget_seconds: float | None = None
    ) -> float:
        """Seconds left (``math.inf`` until a rate is known) after a report: ``step`` done
        after ``elapsed`` seconds of training, of ``total`` steps; with a time budget, at
        most what is left of it."""
        left = self._steps_left(step, elapsed, total)
        if budget_seconds is not None:
            left = min(left, max(0.0, budget_seconds - elapsed))
        return left

    def _steps_left(self, step: int, elapsed: float, total: int) -> float:
        points = self._points
        if points and (elapsed < points[-1][0] or step < points[-1][1]):
            points.clear()  # a new run, or one resumed from an earlier step
        points.append((elapsed, step))
        span = min(self.longest, max(self.window, self.share * elapsed))
        while len(points) > 2 and points[1][0] <= elapsed - span:
            points.pop(0)
        (t0, s0), (t1, s1) = points[0], points[-1]
        if step >= total:
            return 0.0  # nothing left, whether or not a rate is known
        if s1 <= s0 or t1 <= t0:
            return math.inf
        return max(0, total - step) * (t1 - t0) / (s1 - s0)


class EndWork(Protocol):
    """What a run does after its last step that takes time: core.quality.monitor's Quality
    events say how long their final measurement will take."""

    def seconds_at_end(self, training_left: float) -> float: ...


class TimeLeft:
    """The time until a run is done, as a user waits for it: the training left (a
    RemainingTime from the reports), then the final quality measurement (from the newest
    quality event). Between reports the training part counts down on ``clock``, so that
    after the last step the time left is the measurement's alone."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.remaining = RemainingTime()
        self.end_work: EndWork | None = None
        self._training = (math.inf, 0.0)  # (seconds left at the last report, when)

    def reset(self) -> None:
        self.remaining.reset()
        self.end_work = None
        self._training = (math.inf, 0.0)

    def report(
        self, step: int, elapsed: float, total: int, budget_seconds: float | None = None
    ) -> float:
        """After a report (see RemainingTime.update): the seconds left in all."""
        left = self.remaining.update(step, elapsed, total, budget_seconds)
        self._training = (left, self.clock())
        return self.seconds()

    def quality(self, event: EndWork) -> float:
        """After a quality event: the seconds left in all."""
        self.end_work = event
        return self.seconds()

    def training_left(self) -> float:
        """Seconds of training left now (``math.inf`` until a rate is known)."""
        left, at = self._training
        return max(0.0, left - (self.clock() - at))

    def seconds(self) -> float:
        training = self.training_left()
        if not math.isfinite(training):
            return math.inf
        end = self.end_work.seconds_at_end(training) if self.end_work is not None else 0.0
        return training + end
