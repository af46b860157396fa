"""An append-only series of (step, value) pairs, cut to a visible range for plotting.

NumPy only (no torch, no Qt): the window imports it before torch is loaded.

A live loss curve gains a point per training step and may hold millions of them, yet each
redraw may cost only a few milliseconds. So a `Series` grows in place (capacity doubling,
about 28 bytes a point) and keeps two summaries up to date as points arrive: prefix sums of
the values, so a trailing moving average costs two lookups per point drawn, and the lowest
and highest value of every 64 points, so decimating a million points for a plot a thousand
pixels wide reads about 16 thousand numbers instead of a million.

Non-finite values (NaN, +-inf: a diverged loss) are kept. They are left out of averages and
of bucket minima and maxima, and `view()` returns them as NaN, which a plot draws as a gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

# The prefix sums restart every BLOCK points, so a huge value (say 1e20 before a loss turns
# inf) spoils the rounding of the sums in its own block only, not of every later average.
BLOCK = 4096
# The index of the smallest and of the largest finite value of every PEAK_BLOCK points is
# kept, so decimating a million points to a thousand reads 1/PEAK_BLOCK of them.
PEAK_BLOCK = 64


def _whole(round_: Callable[[float], int], x: float) -> np.int64:
    """`x` rounded to an int64 step. Searching an int64 array for a float would copy it."""
    if not math.isfinite(x):
        return np.int64(2**62 if x > 0 else -(2**62))
    return np.int64(min(max(round_(x), -(2**62)), 2**62))


def _finite_arg_extremes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions of the smallest and the largest finite value (any position
    when a row has none)."""
    lows, highs = rows.argmin(axis=1), rows.argmax(axis=1)
    taken = np.arange(len(rows))
    # argmin/argmax land on a NaN or inf whenever a row holds one: redo those rows with the
    # non-finite values masked out (rare, so the common path stays fast).
    bad = ~(np.isfinite(rows[taken, lows]) & np.isfinite(rows[taken, highs]))
    if bad.any():
        picked = rows[bad]
        finite = np.isfinite(picked)
        lows[bad] = np.where(finite, picked, np.inf).argmin(axis=1)
        highs[bad] = np.where(finite, picked, -np.inf).argmax(axis=1)
    return lows, highs


class PointValue(NamedTuple):
    """One point of a series, as the values-under-the-cursor readout shows it."""

    step: int
    value: float  # raw value (NaN when it was not finite)
    smoothed: float  # trailing mean over the window (equals value when window is 1)


class Series:
    """Append-only (step, value) pairs: steps strictly increasing int64, values float64."""

    def __init__(self, capacity: int = 1024) -> None:
        capacity = max(int(capacity), 16)
        self._n = 0
        self._steps = np.empty(capacity, np.int64)
        self._values = np.empty(capacity, np.float64)
        # Sum of the finite values from the start of the point's block up to it (inclusive).
        self._block_sums = np.empty(capacity, np.float64)
        # Number of non-finite values from the first point up to this one (inclusive).
        self._nonfinite_counts = np.empty(capacity, np.int32)
        # Indices of the smallest and largest finite value of each whole PEAK_BLOCK.
        self._peak_lows = np.empty(capacity // PEAK_BLOCK + 1, np.int64)
        self._peak_highs = np.empty(capacity // PEAK_BLOCK + 1, np.int64)

    # ----------------------------------------------------------------------------- filling

    def __len__(self) -> int:
        return self._n

    @property
    def steps(self) -> np.ndarray:
        """The steps held so far (a read-only view, valid until the next append)."""
        view = self._steps[: self._n]
        view.flags.writeable = False
        return view

    @property
    def values(self) -> np.ndarray:
        """The values held so far (a read-only view, valid until the next append)."""
        view = self._values[: self._n]
        view.flags.writeable = False
        return view

    def clear(self) -> None:
        """Forget every point (the capacity is kept)."""
        self._n = 0

    def append(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Add points after the last one.

        `steps` must increase strictly. When the first new step is not after the newest
        point held (a run resumed from an earlier checkpoint), the points from that step on
        are dropped first, so the series continues from there.
        """
        steps = np.asarray(steps, np.int64).ravel()
        values = np.asarray(values, np.float64).ravel()
        if len(steps) != len(values):
            raise ValueError(f"{len(steps)} steps but {len(values)} values")
        if len(steps) == 0:
            return
        if len(steps) > 1 and not np.all(steps[1:] > steps[:-1]):
            raise ValueError("steps must increase strictly")
        if self._n and steps[0] <= self._steps[self._n - 1]:
            self._n = int(np.searchsorted(self._steps[: self._n], steps[0], side="left"))

        start, end = self._n, self._n + len(steps)
        self._reserve(end)
        self._steps[start:end] = steps
        self._values[start:end] = values
        finite = np.isfinite(values)
        nonfinite_before = self._nonfinite_counts[start - 1] if start else 0
        np.cumsum(~finite, out=self._nonfinite_counts[start:end])
        self._nonfinite_counts[start:end] += nonfinite_before
        finite_values = np.where(finite, values, 0.0)
        # Prefix sums that restart at each block boundary: one slice per block touched.
        lo = start
        while lo < end:
            hi = min((lo // BLOCK + 1) * BLOCK, end)
            out = self._block_sums[lo:hi]
            np.cumsum(finite_values[lo - start : hi - start], out=out)
            if lo % BLOCK:
                out += self._block_sums[lo - 1]
            lo = hi
        # Peaks of the blocks this append completed.
        first_block, stop_block = start // PEAK_BLOCK, end // PEAK_BLOCK
        if stop_block > first_block:
            lows, highs = _finite_arg_extremes(
                self._values[first_block * PEAK_BLOCK : stop_block * PEAK_BLOCK].reshape(
                    -1, PEAK_BLOCK
                )
            )
            offsets = np.arange(first_block, stop_block) * PEAK_BLOCK
            self._peak_lows[first_block:stop_block] = offsets + lows
            self._peak_highs[first_block:stop_block] = offsets + highs
        self._n = end

    def _reserve(self, size: int) -> None:
        capacity = len(self._steps)
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        for name in ("_steps", "_values", "_block_sums", "_nonfinite_counts"):
            old = getattr(self, name)
            new = np.empty(capacity, old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)
        blocks = self._n // PEAK_BLOCK
        for name in ("_peak_lows", "_peak_highs"):
            old = getattr(self, name)
            new = np.empty(capacity // PEAK_BLOCK + 1, old.dtype)
            new[:blocks] = old[:blocks]
            setattr(self, name, new)

    # ----------------------------------------------------------------------------- reading

    def view(
        self, x_min: float, x_max: float, max_points: int, window: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """The points to draw for steps in [x_min, x_max], as float64 arrays (x, y).

        One point beyond each end is included, so a line reaches the edge of the view.
        With `window` > 1 each value is the mean of the finite values in the trailing
        `window` steps (step - window, step]. When more than `max_points` points fall in
        the range they are decimated to about `max_points`: without smoothing each bucket
        keeps its minimum and maximum (spikes stay visible), with smoothing one sample per
        bucket. Non-finite values come back as NaN (a gap in the line).
        """
        n = self._n
        if n == 0 or not x_max >= x_min:
            return np.zeros(0), np.zeros(0)
        steps = self._steps[:n]
        first = max(int(np.searchsorted(steps, _whole(math.ceil, x_min), side="left")) - 1, 0)
        stop = min(int(np.searchsorted(steps, _whole(math.floor, x_max), side="right")) + 1, n)
        count = stop - first
        window = max(int(window), 1)
        max_points = max(int(max_points), 4)

        if count <= max_points:
            index = np.arange(first, stop)
            if window > 1:
                return steps[index].astype(np.float64), self._smoothed(index, window)
            y = self._values[first:stop].copy()
            y[~np.isfinite(y)] = np.nan
            return steps[first:stop].astype(np.float64), y

        if window > 1:
            # One sample per bucket, on bucket edges that do not move as the view pans (so
            # a followed curve does not shimmer), plus both ends of the range.
            bucket = -(-count // max_points)
            inner = np.arange((first // bucket + 1) * bucket, stop - 1, bucket)
            index = np.concatenate(([first], inner, [stop - 1]))
            return steps[index].astype(np.float64), self._smoothed(index, window)

        return self._min_max(first, stop, -(-count // (max_points // 2)))

    def _min_max(self, first: int, stop: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """Peak-preserving decimation: each bucket's minimum and maximum, in step order."""
        steps, values = self._steps, self._values
        by_blocks = bucket >= 4 * PEAK_BLOCK
        if by_blocks:  # whole blocks per bucket: pick among the blocks' peaks
            bucket = -(-bucket // PEAK_BLOCK) * PEAK_BLOCK
        aligned = first - first % bucket  # bucket edges at multiples of `bucket`, fixed
        whole = (stop - aligned) // bucket  # as the view pans (no shimmer while following)
        end = aligned + whole * bucket
        offsets = np.arange(whole) * bucket + aligned
        if by_blocks:  # every block inside [aligned, end) is whole: end <= stop <= len
            per_bucket = bucket // PEAK_BLOCK
            blocks = slice(aligned // PEAK_BLOCK, end // PEAK_BLOCK)
            peak_lows = self._peak_lows[blocks].reshape(whole, per_bucket)
            peak_highs = self._peak_highs[blocks].reshape(whole, per_bucket)
            rows = np.arange(whole)
            low_choice, _ = _finite_arg_extremes(values[peak_lows])
            _, high_choice = _finite_arg_extremes(values[peak_highs])
            lows = peak_lows[rows, low_choice]
            highs = peak_highs[rows, high_choice]
        else:
            lows, highs = _finite_arg_extremes(values[aligned:end].reshape(whole, bucket))
            lows += offsets
            highs += offsets
        if end < stop:  # the last, partial bucket
            low, high = _finite_arg_extremes(values[end:stop].reshape(1, -1))
            lows = np.append(lows, end + low)
            highs = np.append(highs, end + high)
        index = np.empty(2 * len(lows), np.int64)
        index[0::2] = np.minimum(lows, highs)
        index[1::2] = np.maximum(lows, highs)
        y = values[index]  # fancy indexing: a copy
        y[~np.isfinite(y)] = np.nan  # buckets with no finite value at all
        return steps[index].astype(np.float64), y

    def _smoothed(self, index: np.ndarray, window: int) -> np.ndarray:
        """Mean of the finite values in (step - window, step] for each point in `index`."""
        steps = self._steps[: self._n]
        last = np.asarray(index, np.int64)
        first = np.searchsorted(steps, steps[last] - window, side="right")
        counts = self._nonfinite_counts
        before = np.where(first > 0, counts[np.maximum(first - 1, 0)], 0)
        finite = (last - first + 1) - (counts[last] - before)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self._range_sums(first, last) / finite
        mean[finite == 0] = np.nan
        return mean

    def _range_sums(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Sum of the finite values of points first..last (inclusive), elementwise."""
        sums = self._block_sums
        before = np.where(first % BLOCK > 0, sums[np.maximum(first - 1, 0)], 0.0)
        result = sums[last] - before  # complete when first and last share a block
        block_first, block_last = first // BLOCK, last // BLOCK
        apart = block_first < block_last
        if apart.any():  # add the rest of first's block: its total minus what came before
            result[apart] += sums[block_first[apart] * BLOCK + BLOCK - 1]
            far = np.flatnonzero(block_last - block_first > 1)
            if len(far):  # windows longer than a block: add the whole blocks in between
                gaps = block_last[far] - block_first[far] - 1
                middle = block_first[far, None] + 1 + np.arange(gaps.max())
                inside = middle < block_last[far, None]
                totals = sums[np.where(inside, middle, 0) * BLOCK + BLOCK - 1]
                result[far] += np.where(inside, totals, 0.0).sum(axis=1)
        return result

    def value_at(self, step: float, window: int = 1) -> PointValue | None:
        """The point nearest to `step` (None when the series is empty)."""
        n = self._n
        if n == 0:
            return None
        steps = self._steps[:n]
        i = int(np.searchsorted(steps, _whole(math.ceil, step)))
        if i == n or (i > 0 and step - steps[i - 1] <= steps[i] - step):
            i -= 1
        value = float(self._values[i])
        if not np.isfinite(value):
            value = float("nan")
        smoothed = value if window <= 1 else float(self._smoothed(np.array([i]), window)[0])
        return PointValue(int(steps[i]), value, smoothed)
