"""How many CPU threads PyTorch uses, and how they wait (torch-free: it runs before PyTorch
loads).

PyTorch's CPU kernels run on an OpenMP team (libgomp). By default its threads spin for a
while when they wait for each other, so when another program takes a core from one of them,
every parallel region of a small network waits for the thread that lost its core. The choice
is measured by ``ganstudio bench --load`` (README, "Sharing the CPU"): the default is the
setting that loses least with one busy core beside training among those within 5% of the best
idle speed. On the 2-core development machine that is one thread per core with spinning
waits (OMP_WAIT_POLICY=ACTIVE): the fastest idle, and a little less slowed by a busy core than
OpenMP's own waits. One thread keeps its whole speed under load but is 29-42% slower on an
idle machine, so it is the choice of a user whose machine is always busy (``--threads 1``).

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

    def describe(self) -> str:
        n = "one thread per core" if self.threads == 0 else f"{self.threads} thread(s)"
        waits = {
            "default": "OpenMP's waits",
            "active": "spinning waits",
            "passive": "passive waits",
        }
        return f"{n}, {waits[self.wait]}"


# Chosen by `ganstudio bench --load` on a 2-core machine (README, "Sharing the CPU").
DEFAULT = ThreadPolicy(threads=0, wait="active")


def parse(text: str) -> ThreadPolicy:
    """``--threads N`` (1 to 1024 threads that sleep while they wait), or ``auto`` / 0 (one
    per core, as PyTorch chooses); ValueError with the allowed forms otherwise."""
    value = text.strip().lower()
    if value in ("auto", "0"):
        return ThreadPolicy(0)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(
            f"--threads takes a whole number of threads or auto, not {text!r}"
        ) from None
    if not 1 <= n <= 1024:
        raise ValueError(f"--threads must be between 1 and 1024 (or auto), not {n}")
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
    overrides OMP_WAIT_POLICY / OMP_NUM_THREADS from the environment; the default does not."""
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
