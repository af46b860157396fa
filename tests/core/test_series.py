"""Series: growth, visible range, smoothing, decimation and non-finite values."""

import subprocess
import sys

import numpy as np
import pytest

from ganstudio.core.series import BLOCK, Series


def filled(values, steps=None, chunk=None) -> Series:
    values = np.asarray(values, np.float64)
    steps = np.arange(1, len(values) + 1) if steps is None else np.asarray(steps)
    series = Series(capacity=16)
    chunk = chunk or max(len(values), 1)
    for i in range(0, len(values), chunk):
        series.append(steps[i : i + chunk], values[i : i + chunk])
    return series


def naive_trailing_mean(steps, values, window):
    """Mean of the finite values with step in (step - window, step], point by point."""
    out = np.empty(len(values))
    for i, step in enumerate(steps):
        inside = values[(steps > step - window) & (steps <= step)]
        inside = inside[np.isfinite(inside)]
        out[i] = inside.mean() if len(inside) else np.nan
    return out


def test_series_module_imports_neither_torch_nor_qt():
    code = (
        "import sys, ganstudio.core.series\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_growth_keeps_every_point_and_views_the_filled_part():
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000)
    series = filled(values, chunk=37)
    assert len(series) == 10_000
    np.testing.assert_array_equal(series.steps, np.arange(1, 10_001))
    np.testing.assert_array_equal(series.values, values)
    assert series.steps.dtype == np.int64 and series.values.dtype == np.float64
    assert not series.values.flags.writeable


def test_growth_doubles_capacity_instead_of_copying_per_append():
    series = Series(capacity=16)
    buffers = set()
    for step in range(1, 5000):
        series.append([step], [float(step)])
        buffers.add(series._values.ctypes.data)  # a new buffer only when capacity doubles
    assert len(buffers) <= 10
    assert len(series._values) < 2 * 5000


def test_append_validates_and_rewinds_on_an_earlier_step():
    series = filled(np.arange(10.0))  # steps 1..10
    with pytest.raises(ValueError):
        series.append([11, 13], [1.0])
    with pytest.raises(ValueError):
        series.append([12, 12], [1.0, 2.0])
    series.append([6, 7], [60.0, 70.0])  # resumed from step 5: steps 6.. are replaced
    np.testing.assert_array_equal(series.steps, [1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(series.values, [0, 1, 2, 3, 4, 60, 70])
    x, y = series.view(0, 100, 100, window=2)
    np.testing.assert_allclose(y, [0, 0.5, 1.5, 2.5, 3.5, 32, 65])


def test_clear_then_append_starts_over():
    series = filled(np.ones(100))
    series.clear()
    assert len(series) == 0
    series.append([5], [2.0])
    np.testing.assert_array_equal(series.view(0, 10, 100)[1], [2.0])


def test_view_range_includes_one_point_beyond_each_edge():
    series = filled(np.arange(100.0), steps=np.arange(0, 1000, 10))  # steps 0, 10, ..., 990
    x, y = series.view(95, 305, max_points=1000)
    np.testing.assert_array_equal(x, np.arange(90, 311, 10))
    np.testing.assert_array_equal(y, np.arange(9, 32))
    x, _ = series.view(100, 300, max_points=1000)  # edges exactly on points
    np.testing.assert_array_equal(x, np.arange(90, 311, 10))
    x, _ = series.view(-500, 5, max_points=1000)  # before the first point
    np.testing.assert_array_equal(x, [0, 10])
    x, _ = series.view(2000, 3000, max_points=1000)  # after the last point
    np.testing.assert_array_equal(x, [990])
    x, _ = series.view(-np.inf, np.inf, max_points=1000)
    assert len(x) == 100
    x, _ = series.view(10, 5, max_points=1000)  # an empty range
    assert len(x) == 0


@pytest.mark.parametrize("window", [2, 3, 10, 57])
def test_smoothing_equals_a_naive_trailing_mean(window):
    rng = np.random.default_rng(window)
    steps = np.cumsum(rng.integers(1, 4, 400))  # gaps between steps: the window is in steps
    values = rng.normal(size=400)
    series = filled(values, steps=steps, chunk=23)
    x, y = series.view(-np.inf, np.inf, max_points=10_000, window=window)
    np.testing.assert_array_equal(x, steps)
    np.testing.assert_allclose(y, naive_trailing_mean(steps, values, window), rtol=1e-12)
    # A range in the middle smooths over points before the range too.
    x, y = series.view(steps[200], steps[300], max_points=10_000, window=window)
    np.testing.assert_allclose(y, naive_trailing_mean(steps, values, window)[199:302], rtol=1e-12)


def test_smoothing_across_blocks_equals_a_naive_trailing_mean():
    rng = np.random.default_rng(1)
    n = 3 * BLOCK + 100
    values = rng.normal(size=n)
    steps = np.arange(n)
    series = filled(values, chunk=1000)
    index = np.arange(0, n, 97)
    for window in (BLOCK // 2, BLOCK + 7, 2 * BLOCK + 300):
        _, y = series.view(-np.inf, np.inf, max_points=10**6, window=window)
        expected = naive_trailing_mean(steps, values, window)
        np.testing.assert_allclose(y[index], expected[index], rtol=1e-9)


def test_a_huge_value_spoils_the_average_near_it_only():
    values = np.random.default_rng(2).normal(size=3 * BLOCK)
    values[100] = 1e25
    series = filled(values, chunk=500)
    _, y = series.view(-np.inf, np.inf, max_points=10**6, window=10)
    later = slice(2 * BLOCK, 3 * BLOCK)
    expected = naive_trailing_mean(np.arange(1, 3 * BLOCK + 1), values, 10)
    np.testing.assert_allclose(y[later], expected[later], rtol=1e-9)


@pytest.mark.parametrize("n", [20_000, 1_000_000])  # buckets of raw points, of blocks
def test_decimation_without_smoothing_keeps_spikes(n):
    rng = np.random.default_rng(4)
    values = rng.uniform(-1, 1, n)
    spikes = np.arange(40) * (n // 40) + rng.integers(0, n // 80, 40)  # a bucket apart
    values[spikes[:20]] = 10.0 + np.arange(20)
    values[spikes[20:]] = -10.0 - np.arange(20)
    series = filled(values, chunk=1500)
    x, y = series.view(-np.inf, np.inf, max_points=500)
    assert len(x) <= 520
    assert np.all(np.diff(x) >= 0)
    np.testing.assert_array_equal(y, values[x.astype(int) - 1])  # real points only
    assert set(spikes + 1) <= set(x.astype(int))  # every spike, at its own step
    x, y = series.view(n // 3, n // 2, max_points=300)  # and inside a range
    inside = spikes[(spikes + 1 >= n // 3) & (spikes + 1 <= n // 2)]
    assert set(inside + 1) <= set(x.astype(int))


def test_decimation_with_smoothing_samples_once_per_bucket():
    rng = np.random.default_rng(3)
    values = rng.normal(size=100_000)
    series = filled(values)
    x, y = series.view(10_000, 60_000, max_points=400, window=100)
    assert 300 <= len(x) <= 420
    assert x[0] <= 10_000 and x[-1] >= 60_000
    assert np.all(np.diff(x) > 0)
    # step s is at index s - 1
    exact = [values[max(step - 100, 0) : step].mean() for step in x.astype(int)]
    np.testing.assert_allclose(y, exact, rtol=1e-9)


def test_non_finite_values_are_gaps_and_left_out_of_averages():
    values = np.array([1.0, 2.0, np.nan, 4.0, np.inf, -np.inf, 7.0, np.nan, np.nan, np.nan])
    series = filled(values)
    _, raw = series.view(-np.inf, np.inf, max_points=100)
    np.testing.assert_array_equal(np.isnan(raw), ~np.isfinite(values))
    _, smooth = series.view(-np.inf, np.inf, max_points=100, window=3)
    np.testing.assert_allclose(smooth, [1, 1.5, 1.5, 3, 4, 4, 7, 7, 7, np.nan])
    point = series.value_at(5, window=3)
    assert point.step == 5 and np.isnan(point.value) and point.smoothed == 4.0


@pytest.mark.parametrize("n", [10_000, 100_000])  # buckets of raw points, of blocks
def test_decimation_skips_non_finite_values_in_a_bucket(n):
    values = np.arange(float(n))
    values[::7] = np.nan
    values[n // 2 : n // 2 + n // 10] = np.nan  # whole buckets without a finite value
    values[3] = np.inf
    values[n - 2] = -np.inf
    series = filled(values, chunk=999)
    x, y = series.view(-np.inf, np.inf, max_points=200)
    finite = np.isfinite(y)
    assert not np.isinf(y).any()
    assert finite.sum() > 150
    assert (~finite).any()  # the all-NaN stretch shows as a gap
    assert y[finite].max() == n - 1 and y[finite].min() == 1.0


def test_empty_and_single_point_series():
    series = Series()
    x, y = series.view(-np.inf, np.inf, max_points=100, window=10)
    assert len(x) == len(y) == 0
    assert series.value_at(3) is None
    series.append(np.array([7]), np.array([0.5]))
    for window in (1, 10):
        x, y = series.view(0, 100, max_points=100, window=window)
        np.testing.assert_array_equal(x, [7.0])
        np.testing.assert_array_equal(y, [0.5])
    assert series.value_at(-1e9, window=5) == (7, 0.5, 0.5)


def test_value_at_picks_the_nearest_step():
    series = filled([10.0, 20.0, 30.0], steps=[10, 20, 30])
    assert series.value_at(14.9).step == 10
    assert series.value_at(15.1).step == 20
    assert series.value_at(1e12).step == 30
    point = series.value_at(21, window=15)
    assert point == (20, 20.0, 15.0)
