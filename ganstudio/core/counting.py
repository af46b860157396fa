"""Networks built only to count their weights (core.models.parameter_count).

Such a network is built on the meta device, where nothing is allocated, but some of its
parts still cost time there for nothing: spectral norm's power iterations run through
PyTorch's Python reference code (a sixth of a second per layer), which froze the window's
settings check for a third of a second at every edit. Those parts ask ``counting()`` and
leave themselves out; they add no weights (spectral norm's vectors are buffers), so the
count is the same.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_COUNTING = contextvars.ContextVar("counting_weights", default=False)


def counting() -> bool:
    """True while a network is being built only to count its weights."""
    return _COUNTING.get()


@contextlib.contextmanager
def only_counting() -> Iterator[None]:
    """Build networks only to count their weights inside this block."""
    token = _COUNTING.set(True)
    try:
        yield
    finally:
        _COUNTING.reset(token)
