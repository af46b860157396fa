"""How many CPU threads PyTorch uses, and how they wait (torch-free: it runs before PyTorch
loads).

PyTorch's CPU kernels run on an OpenMP team (libgomp). Its threads spin for a while when they
wait for each other, so when another program takes a core from one of them, every parallel
region of a small network waits for the thread that lost its core: with one busy core beside
it, training on a 2-core machine slows to a quarter. One thread never waits for another and
keeps its speed under load, but is 29-42% slower on an idle machine. No fixed count is right
for a desktop, whose load comes and goes, so the default adapts: training starts on one
thread per core and ``core.training.thread_tuner`` tries the other counts from time to time
(at once when training suddenly slows down), keeping whichever trains faster now. Idle
threads of OpenMP's own wait policy fall asleep, so a team left unused costs nothing (with
OMP_WAIT_POLICY=ACTIVE they would spin forever). The choice is measured by
``ganstudio bench --load`` (README, "Sharing the CPU").

A fixed count (``--threads N``) does not adapt; on the CPU it is also what makes two runs of
a convolutional model repeat bit for bit (their kernels' sums depend on the thread count).

The window's training thread runs at the window's own priority. At a lower one (nice 10
on Linux, as tried) the event loop's longest stall fell from about 32 to 24-34 ms, but beside
one busy core the team's thread that shared the busy core got a tenth of it, and training
all but stopped (1 step/s on ring8 instead of 36) until the tuner moved it to one thread:
seconds without a new preview (`ganstudio bench --gui`, README).

The wait policy is read by OpenMP once, when PyTorch loads: ``configure`` must run before the
first ``import torch`` to set it (the command line calls it first thing); on a PyTorch already
loaded it still sets the thread count.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

ENV = "GANSTUDIO_THREADS"  # the user's override, like --threads
WAITS = ("default", "active", "passive")  # OpenMP's own, spin, sleep


@dataclass(frozen=True)
class ThreadPolicy:
    """``threads``: PyTorch's intra-op threads (0: one per core); ``wait``: how a waiting
    thread waits (OMP_WAIT_POLICY), "default" leaving OpenMP's own (spin a while, then
    sleep)."""

    threads: int
    wait: str = "default"
    adaptive: bool = False  # training moves between one per core and one (thread_tuner)

    def describe(self) -> str:
        n = "one thread per core" if self.threads == 0 else f"{self.threads} thread(s)"
        if self.adaptive:
            n = "adaptive: one per core, fewer while the CPU is busy"
        waits = {
            "default": "OpenMP's waits",
            "active": "spinning waits",
            "passive": "passive waits",
        }
        return f"{n}, {waits[self.wait]}"


# Chosen by `ganstudio bench --load` on a 2-core machine (README, "Sharing the CPU").
DEFAULT = ThreadPolicy(threads=0, wait="default", adaptive=True)

# What configure() last applied (None: nothing did, e.g. a library user or a test).
_applied: ThreadPolicy | None = None


def applied() -> ThreadPolicy | None:
    """The policy ``configure`` set for this process, if it ran."""
    return _applied


def parse(text: str) -> ThreadPolicy:
    """``--threads N`` (1 to 1024 threads that sleep while they wait), ``auto`` / 0 (one per
    core, as PyTorch chooses, never adapting) or ``adaptive`` (the default); ValueError with
    the allowed forms otherwise."""
    value = text.strip().lower()
    if value in ("auto", "0"):
        return ThreadPolicy(0)
    if value == "adaptive":
        return DEFAULT
    try:
        n = int(value)
    except ValueError:
        raise ValueError(
            f"--threads takes a whole number of threads, auto or adaptive, not {text!r}"
        ) from None
    if not 1 <= n <= 1024:
        raise ValueError(f"--threads must be between 1 and 1024 (or auto, adaptive), not {n}")
    return ThreadPolicy(n, wait="passive")


def choose(cli_value: str | None = None) -> tuple[ThreadPolicy, bool]:
    """The policy to use and whether the user asked for it: --threads, else
    GANSTUDIO_THREADS, else the measured default."""
    text = cli_value if cli_value is not None else os.environ.get(ENV)
    if text is None or not text.strip():
        return DEFAULT, False
    return parse(text), True


def environment(policy: ThreadPolicy) -> dict[str, str]:
    """The OpenMP variables that make ``policy`` (none for PyTorch's own defaults)."""
    env = {}
    if policy.wait != "default":
        env["OMP_WAIT_POLICY"] = policy.wait.upper()
    if policy.threads:
        env["OMP_NUM_THREADS"] = str(policy.threads)
    return env


def configure(policy: ThreadPolicy, explicit: bool = False) -> None:
    """Set the wait policy and thread count for OpenMP before PyTorch loads, or the thread
    count of a loaded PyTorch. ``explicit`` (the user asked: --threads, GANSTUDIO_THREADS)
    overrides OMP_WAIT_POLICY / OMP_NUM_THREADS from the environment; the default does not.
    An adaptive policy applies only where the user's environment fixes no thread count."""
    global _applied
    if policy.adaptive and not explicit and os.environ.get("OMP_NUM_THREADS"):
        policy = ThreadPolicy(policy.threads, policy.wait)  # the user's count stays fixed
    _applied = policy
    torch = sys.modules.get("torch")
    if torch is not None:  # too late for the wait policy; the count still changes
        if explicit or policy.threads:
            torch.set_num_threads(policy.threads or (os.cpu_count() or 1))
        return
    for key, value in environment(policy).items():
        if explicit:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
