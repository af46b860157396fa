"""Keep PyTorch's CPU thread count at whatever trains fastest on the machine as it is now.

A desktop is never idle for long: a browser tab, a compile or the window's own drawing takes
a core for a while and gives it back. With one thread per core, a thread that loses its core
holds up every parallel region (core.threads), so training on a 2-core machine beside one
busy core runs at a quarter of its speed, while one thread would keep nearly all of its own.
On an idle machine it is the other way round. The tuner measures instead of guessing:

- It times training steps only (not previews, reports or pauses), in windows of at least
  ``window`` seconds and ``MIN_WINDOW_STEPS`` steps (or, when steps are that slow, of
  ``LONG_WINDOW`` windows' seconds), and remembers the last window's rate.
  It also reads the process's CPU time over the window: threads that have their cores run
  (or spin) all the time, so on all cores the CPU time is nearly threads x wall time; well
  below (under ``CONTENDED``) another program is taking cores.
- It tries a neighbouring count every ``period`` seconds; on all cores sooner while the CPU
  time says the cores are contended (``first_trial`` seconds into the run, then every
  ``CONTENDED_PERIOD`` seconds), and at once when a window is more than ``SLOWDOWN`` slower
  than the one before (then fewer threads, which wait less for each other). The CPU time cannot
  see everything: the process's own other threads (the window's painting) count as its own,
  yet take cores from the team just as another program does, and on fewer threads it
  cannot see whether the cores came free. So the periodic trials run on an idle machine
  too, where a losing trial costs a window at the slower count every ``max_period``
  seconds at most (under 1% of the time).
- A trial runs one window on the neighbouring count of the ladder (all cores, half, ...,
  one) and keeps it if it trains more than ``margin`` faster than the window just before,
  else goes back. A trial that loses doubles the period (up to ``max_period``); a winning
  one resets it.

Windows begin after ``settle_steps`` steps on a new count (or one step of ``SETTLED``
window), so the threads' wake-up is not measured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_WINDOW_STEPS = 3  # a window has at least this many steps ...
LONG_WINDOW = 2.0  # ... or lasts this many windows' seconds (slow steps: a stalled team)
SETTLED = 0.25  # a step of this share of a window ends the settling at once
SLOWDOWN = 0.75  # a window below this share of the last one's rate: try fewer threads now
CONTENDED = 0.8  # CPU time / (threads x wall time) below this: cores are being taken
CONTENDED_PERIOD = 5.0  # ... and a trial is due this many seconds after the last one


def ladder(most: int) -> tuple[int, ...]:
    """The counts worth trying: most, most // 2, ..., 1 (most first)."""
    counts = [most]
    while counts[-1] > 1:
        counts.append(counts[-1] // 2)
    return tuple(counts)


class ThreadTuner:
    """Call ``stepped(seconds)`` after each training step with the seconds it took; the
    tuner calls ``set_threads`` when it tries or keeps another count. ``close`` puts the
    starting count back (the next run in the same process starts from all cores again)."""

    def __init__(
        self,
        most: int,
        set_threads: Callable[[int], None],
        window: float = 1.0,
        period: float = 20.0,
        max_period: float = 60.0,
        margin: float = 0.05,
        settle_steps: int = 2,
        first_trial: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.counts = ladder(max(1, most))
        self.set_threads = set_threads
        self.window, self.base_period, self.max_period = window, period, max_period
        self.margin, self.settle_steps = margin, settle_steps
        self.current = self.counts[0]
        self.period = period
        # While the cores are contended a trial is due this many seconds after the last one:
        # at first early (the machine may be busy now), later every CONTENDED_PERIOD.
        self.contended_wait = first_trial
        self.rates: dict[int, float] = {}  # the last measured steps/s of each count
        self.trial_from: int | None = None  # while a trial runs: the count it may replace
        self.upward = True  # which neighbour the next periodic trial tries
        self.switches = 0
        self._settle = settle_steps
        self._steps = 0
        self._seconds = 0.0
        self._since_trial = 0.0
        self._last_rate: float | None = None
        self.clock, self.cpu_clock = clock, cpu_clock
        self.share: float | None = None  # the last window's CPU time per thread and second
        self._start: tuple[float, float] | None = None  # (wall, CPU) when the window began

    @property
    def trying(self) -> bool:
        return self.trial_from is not None

    def stepped(self, seconds: float) -> None:
        if len(self.counts) == 1:
            return
        if self._settle > 0:
            # A thread team's wake-up costs milliseconds: a step that long already settled it
            # (beside a busy core a step can take a second, and the tuner must not wait for
            # several of them before it measures).
            self._settle = 0 if seconds >= SETTLED * self.window else self._settle - 1
            if self._settle == 0:
                self._start = (self.clock(), self.cpu_clock())
            return
        if self._start is None:
            self._start = (self.clock(), self.cpu_clock())
            return  # the window starts with the next step
        self._steps += 1
        self._seconds += seconds
        if self._seconds < self.window or (
            self._steps < MIN_WINDOW_STEPS and self._seconds < LONG_WINDOW * self.window
        ):
            return
        rate = self._steps / max(self._seconds, 1e-9)
        wall, cpu = self.clock(), self.cpu_clock()
        self.share = (cpu - self._start[1]) / max((wall - self._start[0]) * self.current, 1e-9)
        self._start = (wall, cpu)
        self._since_trial += self._seconds
        self._steps, self._seconds = 0, 0.0
        if self.trial_from is not None:
            self._end_trial(rate)
            return
        slowed = self._last_rate is not None and rate < SLOWDOWN * self._last_rate
        self.rates[self.current] = self._last_rate = rate
        if slowed and self.current != self.counts[-1]:  # fewer threads wait less
            self._try(self._neighbour(up=False))
            return
        due = self._since_trial >= self.period
        if self.current == self.counts[0] and self.share < CONTENDED:
            due = due or self._since_trial >= self.contended_wait  # cores are being taken
        if not due:
            return
        if self.current != self.counts[0]:
            self._try(self._neighbour(up=self.upward))
        else:
            self._try(self._neighbour(up=False))

    def _neighbour(self, up: bool) -> int | None:
        i = self.counts.index(self.current)
        below = self.counts[i + 1] if i + 1 < len(self.counts) else None
        above = self.counts[i - 1] if i > 0 else None
        # "up" means more threads (towards the start of the ladder)
        return (above if up else below) or (below if up else above)

    def _try(self, count: int | None) -> None:
        self._since_trial = 0.0
        self.contended_wait = CONTENDED_PERIOD
        self.upward = not self.upward
        if count is None:
            return
        self.trial_from = self.current
        self._use(count)

    def _end_trial(self, rate: float) -> None:
        before, tried = self.trial_from, self.current
        assert before is not None
        self.trial_from = None
        self.rates[tried] = rate
        old = self.rates[before]
        if rate > (1.0 + self.margin) * old:
            log.info("training on %d thread(s): %.1f steps/s against %.1f", tried, rate, old)
            self.period = self.base_period
            self._last_rate = rate
            self.switches += 1
        else:
            self.period = min(2 * max(self.period, self.base_period / 2), self.max_period)
            self._use(before)

    def _use(self, count: int) -> None:
        self.current = count
        self.set_threads(count)
        self._settle = self.settle_steps
        self._steps, self._seconds = 0, 0.0
        self._start = None

    def close(self) -> None:
        if self.current != self.counts[0]:
            self._use(self.counts[0])


def tuner_for(device_type: str, distributed: bool) -> ThreadTuner | None:
    """The tuner for a run, when the process's thread policy adapts (core.threads) and the
    run trains on the CPU alone (a GPU run, or a torchrun job's fixed share, has no use for
    one)."""
    import torch

    from ganstudio.core import threads

    policy = threads.applied()
    if policy is None or not policy.adaptive or device_type != "cpu" or distributed:
        return None
    most = torch.get_num_threads()
    return ThreadTuner(most, torch.set_num_threads) if most > 1 else None


def timed(step: Callable[[], None], tuner: ThreadTuner | None) -> None:
    """Run one training step, telling the tuner how long it took."""
    if tuner is None:
        step()
        return
    t0 = time.perf_counter()
    step()
    tuner.stepped(time.perf_counter() - t0)
