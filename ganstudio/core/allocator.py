"""The C allocator's settings for training on the CPU (torch-free: it runs first thing).

PyTorch's CPU tensors come from the C library's malloc. glibc's defaults hand freed memory
back to the system as soon as 128 KiB lie free at the top of a heap, and serve larger blocks
with mmap, its threshold rising and falling with what was freed last. A training step frees
its activations and gradients and allocates as much again in the next step, so memory went
back and forth each step: on 2 cores the default DCGAN on digits took 2,600-13,800 page
faults a step (each a page the kernel zeroes again), against 0-60 with the settings below,
and trained at 4.8-5.7 steps/s against 6.0-6.9; ring8's MLP at 40-42 against 47-51 steps/s
(fresh processes alternating, in the main thread and in a training thread alike; the
process's peak memory the same within 10 MiB).

``configure`` keeps up to TRIM (64 MiB) free at the top of a heap with PAD (16 MiB) more on
each growth, and sends only blocks of MMAP (32 MiB, glibc's largest) and more to mmap: a
dataset's or a big batch's tensors still go back to the system when freed. It does nothing
on other C libraries (macOS, Windows, musl) and when the user set any of glibc's own
MALLOC_* variables, or ``GANSTUDIO_MALLOC=default``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

ENV = "GANSTUDIO_MALLOC"  # "default": leave the C library's own settings
GLIBC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
MIB = 2**20
TRIM = 64 * MIB
PAD = 16 * MIB
MMAP = 32 * MIB  # glibc refuses more (half its largest thread heap)
SETTINGS = ((M_MMAP_THRESHOLD, MMAP), (M_TRIM_THRESHOLD, TRIM), (M_TOP_PAD, PAD))


def glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (it has gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Apply SETTINGS (see the module docstring); True when glibc took all of them."""
    env = os.environ if environ is None else environ
    if env.get(ENV, "").strip().lower() == "default" or any(k in env for k in GLIBC_ENV):
        return False
    libc = glibc()
    if libc is None:
        return False
    return all(libc.mallopt(param, value) == 1 for param, value in SETTINGS)
