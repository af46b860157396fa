"""The C allocator's settings (core.allocator): freed memory stays for the next training
step instead of going back to the system and being faulted in again."""

import os
import subprocess
import sys

import pytest

from ganstudio.core import allocator

# A training step's pattern: blocks of a few MB allocated, written and freed, again and
# again. The child prints whether configure took and the page faults of one round.
CHILD = """
import ctypes, resource, sys
from ganstudio.core import allocator
took = allocator.configure()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 1_500_000

def step():
    blocks = [libc.malloc(SIZE) for _ in range(20)]
    for b in blocks:
        ctypes.memset(b, 1, SIZE)
    for b in blocks:
        libc.free(b)

step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(took, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults(**env) -> tuple[bool, float]:
    environ = {k: v for k, v in os.environ.items() if k != allocator.ENV}
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=environ, capture_output=True, text=True, check=True
    )
    took, faults = out.stdout.split()
    return took == "True", float(faults)


@pytest.mark.skipif(allocator.glibc() is None, reason="glibc only")
def test_freed_blocks_are_kept_for_the_next_step():
    took, tuned = _faults()
    left, default = _faults(**{allocator.ENV: "default"})
    assert took and not left
    # 30 MB written per round: with glibc's defaults most of it is new pages every round.
    assert default > 1000
    assert tuned < default / 10


def test_the_users_own_settings_win(monkeypatch):
    assert not allocator.configure({allocator.ENV: "default"})
    assert not allocator.configure({"MALLOC_TRIM_THRESHOLD_": "131072"})
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not allocator.configure({})
