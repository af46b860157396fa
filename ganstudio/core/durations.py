"""Durations as people read them on a progress line or a status bar (no PyTorch here)."""

from __future__ import annotations

import math


def format_duration(seconds: float, unknown: str = "--:--") -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``; ``unknown`` for NaN, infinite or negative."""
    if not math.isfinite(seconds) or seconds < 0:
        return unknown
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"
