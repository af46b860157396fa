"""Recurring work spaced so that it takes at most a share of the wall time (no PyTorch here:
the window's curves use it as the training loop's previews and probes do)."""

from __future__ import annotations


class Spacing:
    """When a recurring piece of work may run again so that it takes at most ``budget`` of
    the wall time: after each run, wait ``max(interval, cost / budget)``, where the cost is
    the smaller of the last two measured. One slow call (a first call's one-time set-up, a
    disk flush, a garbage-collector pause) then does not hold the next one back; work that is
    always slow is spaced by its real cost from its second call on.

    With a ``cadence``, the wait is at most ``cadence`` seconds as long as that takes at most
    ``most`` of the time (the work then costs up to ``most``, not ``budget``)."""

    def __init__(self, budget: float, cadence: float | None = None, most: float = 1.0) -> None:
        self.budget, self.cadence, self.most = budget, cadence, most
        self.costs: list[float] = []
        self.next = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next

    def wait(self, cost: float) -> float:
        """Seconds to wait after work that cost ``cost`` (before any ``interval``)."""
        wait = cost / self.budget
        if self.cadence is not None:
            wait = min(wait, max(self.cadence, cost / self.most))
        return wait

    def ran(self, cost: float, now: float, interval: float) -> None:
        self.costs = [*self.costs[-1:], cost]
        wait = self.wait(min(self.costs)) if len(self.costs) == 2 else 0.0
        self.next = now + max(interval, wait)
