"""The thread-safe remote control of a training run: pause, resume, step, stop, live edits.

The trainer calls ``acquire_step`` before each step. Any thread (the window's, a test's)
calls the other methods. Nothing here touches tensors.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

# Settings that may change while a run is going, and how each is checked.
LIVE_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "lr_g": lambda v: isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 1,
    "lr_d": lambda v: isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 1,
    "d_steps": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100,
}


class TrainControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._step_credit = 0
        self._edits: dict[str, Any] = {}
        self._save_at_end = True
        self._measure_at_end = True
        # Slow motion: while stepping (paused), each step is half a step: the
        # discriminator's update, then, at the next step, the generator's.
        self.slow_motion = False
        # Whether anyone looks at the probes now (the window's Diagnose tab): unseen, they
        # come less often (core.training.loop), so that training gets the time.
        self.probes_watched = True

    # -- called from any thread --------------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._step_credit = 0

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self, n: int = 1) -> None:
        """While paused, allow n more steps (then stay paused). Pauses a running trainer first."""
        with self._cond:
            self._paused = True
            self._step_credit += max(1, int(n))
            self._cond.notify_all()

    def stop(self, save: bool = True, measure: bool = True) -> None:
        """End the run after the current step; ``save`` False: without writing the final
        checkpoint and model file (what was autosaved stays); ``measure`` False (or a stop
        without saving): without the final quality measurement, or cutting it short. A
        second call can only take away, never give back."""
        with self._cond:
            self._stop = True
            if not save:
                self._save_at_end = False
            if not save or not measure:
                self._measure_at_end = False
            self._cond.notify_all()

    def set(self, **settings: Any) -> None:
        """Queue live edits (lr_g, lr_d, d_steps); applied between two steps."""
        for key, value in settings.items():
            check = LIVE_SETTINGS.get(key)
            if check is None:
                raise ValueError(
                    f"{key} cannot be changed during training; "
                    f"live settings: {', '.join(LIVE_SETTINGS)}"
                )
            if not check(value):
                raise ValueError(f"invalid value for {key}: {value!r}")
        with self._cond:
            self._edits.update(settings)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self._stop

    @property
    def save_at_end(self) -> bool:
        """Whether the run ends by saving its final checkpoint and model file."""
        return self._save_at_end

    @property
    def measure_at_end(self) -> bool:
        """Whether the run ends with one quality measurement of its final generator."""
        return self._measure_at_end

    # -- called by the trainer ---------------------------------------------------------
    def take_edits(self) -> dict[str, Any]:
        with self._cond:
            edits, self._edits = self._edits, {}
        return edits

    def acquire_step(self, before_blocking: Callable[[], None] | None = None) -> bool:
        """Wait until a step may run. Returns False when the run must stop.

        ``before_blocking`` runs (once, without the lock) when the trainer is about to wait,
        so it can flush its last report to the user first.
        """
        with self._cond:
            if self._stop:
                return False
            if not self._paused:
                return True
            if self._step_credit > 0:
                self._step_credit -= 1
                return True
        if before_blocking is not None:
            before_blocking()
        with self._cond:
            while not self._stop and self._paused and self._step_credit == 0:
                self._cond.wait()
            if self._stop:
                return False
            if self._paused:
                self._step_credit -= 1
            return True
