"""A log-scale axis whose tick labels never overlap.

pyqtgraph's log axis labels every multiple 1-9 of each decade whenever its own ticks give
fewer than three levels, so a plot two decades high (gradient norms from 0.04 to 3) printed
"0.1 0.09 0.08 ..." on top of each other. ``log_ticks`` picks, from the sparsest set up, the
densest set of labelled values whose neighbours are at least a label's height apart: the
decades, then 1-2-5, then every multiple; an axis narrower than a pair of those gets evenly
stepped values (0.42, 0.44, ...). The other multiples of each decade stay as short ticks
without labels.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

# Multiples of a decade labelled, sparsest first.
LABEL_SETS = ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))
MINOR_PX = 2.0  # unlabelled ticks closer than this are left out
LINE_SPACING = 1.4  # labelled ticks at least this many label heights apart


def _multiples(lo: float, hi: float, factors: tuple[int, ...]) -> list[float]:
    """log10 of every factor x 10^k between ``lo`` and ``hi`` (log10 values)."""
    out = []
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        for f in factors:
            v = k + math.log10(f)
            if lo <= v <= hi:
                out.append(v)
    return out


def _stepped(lo: float, hi: float, pixels: float, min_px: float) -> list[float]:
    """log10 of evenly stepped values (a step of 1, 2 or 5 x 10^k) between 10^lo and 10^hi,
    as many as fit at least ``min_px`` apart at the axis's densest end (its top)."""
    a, b = 10.0**lo, 10.0**hi
    per_px = (hi - lo) / pixels  # log10 per pixel
    for k in range(math.floor(math.log10(b - a)) - 2, math.floor(math.log10(b)) + 2):
        for f in (1, 2, 5):
            step = f * 10.0**k
            if step <= 0 or math.log10(b / max(b - step, 1e-300)) < min_px * per_px:
                continue  # the top two values of this step would touch
            values = np.arange(math.ceil(a / step), math.floor(b / step) + 1) * step
            values = values[values > 0]
            if len(values) >= 2:
                return [math.log10(v) for v in values]
    return [lo, hi] if hi > lo else [lo]


def log_ticks(lo: float, hi: float, pixels: float, min_px: float) -> tuple[list, list]:
    """(labelled, unlabelled) tick positions, as log10 values, for an axis from ``lo`` to
    ``hi`` (log10) ``pixels`` long, labels at least ``min_px`` apart (module docstring)."""
    lo, hi = sorted((float(lo), float(hi)))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or pixels <= 0:
        return [], []
    px_per_unit = pixels / (hi - lo)
    every = max(1, math.ceil(min_px / px_per_unit))  # decades apart, for many decades
    labelled = [v for v in _multiples(lo, hi, (1,)) if round(v) % every == 0]
    if every == 1:
        for factors in LABEL_SETS[1:]:
            values = _multiples(lo, hi, factors)
            if len(values) >= 2 and np.diff(values).min() * px_per_unit < min_px:
                break  # too dense: the sparser set stays
            labelled = values
    if len(labelled) < 2:
        labelled = _stepped(lo, hi, pixels, min_px)
    taken = set(np.round(labelled, 9))
    minor = [v for v in _multiples(lo, hi, LABEL_SETS[-1]) if round(v, 9) not in taken]
    if minor and np.diff(sorted(minor + labelled)).min() * px_per_unit < MINOR_PX:
        minor = []
    return labelled, minor


def tick_label(value: float) -> str:
    """The label of a tick at 10^``value``, in as few digits as say it: 0.04, 2, 2500,
    0.44, 1e-05, 1.15e-06."""
    x = 10.0**value
    plain = 1e-3 <= x < 1e5  # written out; beyond, in powers of ten
    for digits in range(0 if plain else 1, 16):
        text = f"{x:.{digits}f}" if plain else f"{x:.{digits}g}"
        if abs(float(text) - x) <= 1e-6 * abs(x):
            return text
    return f"{x:g}"


class LogAxis(pg.AxisItem):
    """A pyqtgraph axis; in log mode its ticks come from ``log_ticks`` (linear mode is
    pyqtgraph's own)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802 (pyqtgraph's name)
        height = QFontMetrics(self.style.get("tickFont") or self.font()).height()
        labelled, minor = log_ticks(minVal, maxVal, size, height * LINE_SPACING)
        return [(1.0, labelled), (None, minor)]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        if spacing is None or scale <= 0:  # the unlabelled level
            return ["" for _ in values]
        return [tick_label(v + math.log10(scale)) for v in values]
