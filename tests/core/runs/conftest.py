import subprocess
import sys

import pytest


@pytest.fixture
def sleeper():
    """A live process that is not this one (a concurrent writer, as far as a lock goes)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid():
    """The id of a process that has exited (and been waited for): a crashed writer."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
