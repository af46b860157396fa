"""Log-scale axes: labelled ticks never closer than a label's height, every label distinct
(the curves' gradient plot printed "0.1 0.09 0.08 ..." on top of each other over two
decades; its axis is tested in test_curves.py)."""

import math

import numpy as np
import pytest

from ganstudio.gui.widgets.log_axis import log_ticks, tick_label


@pytest.mark.parametrize(
    ("lo", "hi", "pixels", "expected"),
    [
        (0.04, 3.0, 120, ["0.05", "0.1", "0.2", "0.5", "1", "2"]),  # two decades: 1-2-5
        (0.04, 3.0, 40, ["0.1", "1"]),  # a short axis: the decades alone
        (0.4, 1.2, 120, ["0.5", "1"]),
        (0.42, 0.48, 80, ["0.42", "0.44", "0.46", "0.48"]),  # within a decade: even steps
        (100, 1e5, 60, ["100", "1000", "10000", "1e+05"]),
    ],
)
def test_ticks_for_typical_ranges(lo, hi, pixels, expected):
    labelled, _ = log_ticks(math.log10(lo), math.log10(hi), pixels, 18)
    assert [tick_label(v) for v in labelled] == expected


def test_labelled_ticks_are_never_closer_than_a_label_and_always_two():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        lo = rng.uniform(-12, 6)
        hi = lo + 10 ** rng.uniform(-3.5, 1.5)
        pixels = rng.uniform(40, 900)
        labelled, minor = log_ticks(lo, hi, pixels, 18)
        assert len(labelled) >= 2, (lo, hi, pixels)
        assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in labelled + minor)
        gaps = np.diff(labelled) * pixels / (hi - lo)
        assert gaps.min() >= 18 - 1e-6, (lo, hi, pixels, labelled)
        labels = [tick_label(v) for v in labelled]
        assert len(set(labels)) == len(labels), labels
        assert not set(np.round(minor, 9)) & set(np.round(labelled, 9))


def test_degenerate_ranges_give_no_ticks():
    assert log_ticks(1.0, 1.0, 100, 18) == ([], [])
    assert log_ticks(float("nan"), 1.0, 100, 18) == ([], [])
    assert log_ticks(0.0, float("inf"), 100, 18) == ([], [])
    assert log_ticks(0.0, 1.0, 0, 18) == ([], [])
