"""Timing training steps the way the speed benchmarks do: the device's queue drained at both
ends, the trainer's reports dropped as they pile up (they are not what is timed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ganstudio.core.device import synchronize

if TYPE_CHECKING:
    from ganstudio.core.training.trainer import Trainer

DROP_EVERY = 50  # steps between dropping the pending reports


def timed_steps(
    trainer: Trainer, seconds: float, step: Callable[[], object] | None = None
) -> tuple[int, float]:
    """Train for about ``seconds`` by calling ``step`` (default ``trainer.train_step``);
    returns the steps taken and the seconds they took."""
    step = step or trainer.train_step
    synchronize(trainer.device)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
        if steps % DROP_EVERY == 0:
            trainer.drop_pending()
    synchronize(trainer.device)
    elapsed = time.perf_counter() - t0
    trainer.drop_pending()
    return steps, elapsed
