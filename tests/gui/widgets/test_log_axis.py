"""Log-scale axes: labelled ticks never closer than a label's height, every label distinct,
and the curves' gradient plot uses them (it printed "0.1 0.09 0.08 ..." on top of each
other over two decades)."""

import math

import numpy as np
import pytest
from PySide6.QtGui import QFontMetrics

from ganstudio.gui.widgets.log_axis import LINE_SPACING, LogAxis, log_ticks, tick_label


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


def test_the_gradient_plot_labels_only_ticks_that_fit(qtbot):
    from ganstudio.gui.widgets.curves import CurvesPanel

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(600, 700)
    panel.show()
    qtbot.waitExposed(panel)
    axis = panel._grad_plot.getAxis("left")
    assert isinstance(axis, LogAxis) and axis.logMode
    height = QFontMetrics(axis.font()).height()
    lo, hi = math.log10(0.04), math.log10(3.0)
    (_, labelled), (_, minor) = axis.tickValues(lo, hi, 120)
    assert (labelled, minor) == log_ticks(lo, hi, 120, height * LINE_SPACING)
    assert len(labelled) >= 2 and np.diff(labelled).min() * 120 / (hi - lo) >= height
    strings = axis.tickStrings(labelled, 1.0, 1.0)
    assert strings == [tick_label(v) for v in labelled] and "0.1" in strings
    assert axis.tickStrings(minor, 1.0, None) == [""] * len(minor)
