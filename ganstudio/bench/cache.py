"""Benchmarks with a cache of their own (a user's first run, or one with a warm cache)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

ENV = "GANSTUDIO_CACHE_DIR"  # read by core.data.cache.cache_root


@contextlib.contextmanager
def cache_folder(path: str) -> Iterator[str]:
    """Everything inside the block caches (prepared data, feature extractors) in ``path``;
    the variable before it is put back afterwards."""
    old = os.environ.get(ENV)
    os.environ[ENV] = path
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
