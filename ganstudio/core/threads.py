"""How many CPU threads PyTorch uses, and how they wait (torch-free: it runs before PyTorch
loads).

PyTorch's CPU kernels run on an OpenMP team (libgomp). By default its threads spin while
they wait for each other, so when another program takes a core from one of them, every
parallel region of a small network waits for the thread that lost its core. A desktop is
never idle. The default here was chosen by ``ganstudio bench --load`` (README, "Sharing the
CPU"): the setting that loses least with one busy core beside training while staying within
5% of the best idle speed.

The wait policy is read by OpenMP once, when PyTorch loads: ``configure`` must run before the
first ``import torch`` to set it (the command line calls it first thing); on a PyTorch already
loaded it still sets the thread count.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

ENV = "GANSTUDIO_THREADS"  # the user's override, like --threads


@dataclass(frozen=True)
class ThreadPolicy:
    """``threads``: PyTorch's intra-op threads (0: one per core); ``passive``: threads sleep
    instead of spinning while they wait."""

    threads: int
    passive: bool

    def describe(self) -> str:
        n = "one thread per core" if self.threads == 0 else f"{self.threads} thread(s)"
        return f"{n}, {'passive' if self.passive else 'spinning'} waits"


# Chosen by `ganstudio bench --load` on a 2-core machine (README, "Sharing the CPU").
DEFAULT = ThreadPolicy(threads=1, passive=True)


def parse(text: str) -> ThreadPolicy:
    """``--threads N`` (N >= 1, or 0 / "auto" for one per core, with spinning waits as
    PyTorch's default); ValueError with the allowed forms otherwise."""
    value = text.strip().lower()
    if value in ("auto", "0"):
        return ThreadPolicy(0, passive=False)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(
            f"--threads takes a whole number of threads or auto, not {text!r}"
        ) from None
    if not 1 <= n <= 1024:
        raise ValueError(f"--threads must be between 1 and 1024 (or auto), not {n}")
    # One thread never waits for another: the policy only matters for teams.
    return ThreadPolicy(n, passive=True)


def choose(cli_value: str | None = None) -> tuple[ThreadPolicy, bool]:
    """The policy to use and whether the user asked for it: --threads, else
    GANSTUDIO_THREADS, else the measured default."""
    text = cli_value if cli_value is not None else os.environ.get(ENV)
    if text is None or not text.strip():
        return DEFAULT, False
    return parse(text), True


def configure(policy: ThreadPolicy, explicit: bool = False) -> None:
    """Set the wait policy and thread count for OpenMP before PyTorch loads, or the thread
    count of a loaded PyTorch. ``explicit`` (the user asked: --threads, GANSTUDIO_THREADS)
    overrides OMP_WAIT_POLICY / OMP_NUM_THREADS from the environment; the default does not."""
    torch = sys.modules.get("torch")
    if torch is not None:  # too late for the wait policy; the count still changes
        torch.set_num_threads(policy.threads or (os.cpu_count() or 1))
        return
    settings = {"OMP_WAIT_POLICY": "PASSIVE" if policy.passive else "ACTIVE"}
    if policy.threads:
        settings["OMP_NUM_THREADS"] = str(policy.threads)
    for key, value in settings.items():
        if explicit:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
