"""Benchmark: preparing a folder of pictures the first time, and loading it from the cache.

``ganstudio bench --prepare [--n 10000]`` writes N 64x64 PNGs (built-in shapes) to a
temporary folder, then times `load_path` with an empty cache and again with the cache
filled. The temporary folder and cache are removed afterwards.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ganstudio.core.data import prepare
from ganstudio.core.data.builtin.shapes import shapes
from ganstudio.core.data.files import load_path

PrintFn = Callable[[str], None]


def write_pngs(folder: Path, n: int, seed: int = 0) -> None:
    """n 64x64 RGB PNGs of built-in shapes, in 10 subfolders (classes by shape)."""
    data = shapes(seed=seed, n=n, size=64)
    pixels = data.data.numpy().transpose(0, 2, 3, 1)
    assert data.labels is not None  # the built-in shapes are labelled by shape
    labels = data.labels.numpy()
    for k in range(n):
        sub = folder / f"class{labels[k]}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(pixels[k])).save(sub / f"{k:06d}.png")


def prepare_table(
    n: int = 10_000, workers: int | None = None, print_fn: PrintFn = print
) -> dict[str, float]:
    """Seconds and images/s of a first (uncached) and a second (cached) preparation."""
    workers = workers or prepare.default_workers()
    with tempfile.TemporaryDirectory(prefix="ganstudio-bench-") as tmp:
        folder, cache = Path(tmp) / "pictures", Path(tmp) / "cache"
        t0 = time.perf_counter()
        write_pngs(folder, n)
        print_fn(f"wrote {n:,} 64x64 PNGs in {time.perf_counter() - t0:.1f} s; {workers} threads")
        options = {"size": "64", "workers": str(workers)}
        t0 = time.perf_counter()
        first = load_path(str(folder), options, cache_root=cache)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = load_path(str(folder), options, cache_root=cache)
        t_cached = time.perf_counter() - t0
        if second.info.extra.get("cache") != "hit" or len(second) != len(first):
            raise RuntimeError("the second load did not come from the cache")
    print_fn(f"{'load':<28}{'seconds':>10}{'images/s':>12}")
    print_fn(f"{'first (decode + cache)':<28}{t_first:>10.2f}{n / t_first:>12,.0f}")
    print_fn(f"{'second (from the cache)':<28}{t_cached:>10.3f}{n / t_cached:>12,.0f}")
    return {"n": n, "workers": workers, "first_s": t_first, "cached_s": t_cached}
