"""Durations for people: the format, and the ETA from the recent training speed."""

import math

import pytest

from ganstudio.core.durations import RemainingTime, format_duration


def test_format():
    assert format_duration(75) == "1:15" and format_duration(3725) == "1:02:05"
    assert format_duration(math.nan) == "--:--" and format_duration(-1, "?") == "?"


def test_the_eta_ignores_one_slow_report_and_follows_a_changed_rate():
    eta = RemainingTime(window=10.0)
    assert eta.update(0, 0.0, 10_000) == math.inf  # no rate yet
    t, step = 0.0, 0
    for _ in range(100):  # 100 steps/s, reported every 0.1 s
        t, step = t + 0.1, step + 10
        left = eta.update(step, t, 10_000)
    assert abs(left - (10_000 - step) / 100) < 1e-6
    t += 0.5  # one report of 0.5 s that holds a preview: 20 steps/s for a moment
    step += 10
    left = eta.update(step, t, 10_000)
    true = (10_000 - step) / 100
    assert abs(left - true) / true < 0.06  # a per-report ETA would read 5x too long
    for _ in range(200):  # the machine gets busy: 50 steps/s from now on
        t, step = t + 0.1, step + 5
        left = eta.update(step, t, 10_000)
    assert abs(left - (10_000 - step) / 50) < 1e-6  # the window holds only the new rate


def test_a_new_or_resumed_run_starts_over():
    eta = RemainingTime()
    for i in range(1, 20):
        eta.update(i * 100, i * 1.0, 10_000)
    assert eta.update(50, 0.5, 1_000) == math.inf  # went back: a new run
    assert math.isclose(eta.update(100, 1.0, 1_000), 9.0)


def test_a_time_budget_caps_the_time_left():
    from ganstudio.core.durations import RemainingTime

    eta = RemainingTime()
    eta.update(0, 0.0, 10**6, budget_seconds=60.0)
    # 100 steps/s with a million steps to go: the time budget ends first
    assert eta.update(1000, 10.0, 10**6, budget_seconds=60.0) == pytest.approx(50.0)
    assert eta.update(2000, 20.0, 2500, budget_seconds=60.0) == pytest.approx(5.0)
    assert eta.update(3000, 70.0, 10**6, budget_seconds=60.0) == 0.0
