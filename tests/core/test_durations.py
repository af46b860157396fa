"""Durations for people: the format, the ETA from the recent training speed, and the time
left with the final measurement after training."""

import math

import pytest

from ganstudio.core.durations import RemainingTime, TimeLeft, format_duration
from ganstudio.core.quality.monitor import Quality


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


def test_the_time_left_counts_the_final_measurement_and_counts_down_after_the_last_step():
    now = [0.0]
    left = TimeLeft(clock=lambda: now[0])
    assert left.report(0, 0.0, 1000) == math.inf
    assert left.report(100, 1.0, 1000) == pytest.approx(9.0)  # no quality event yet
    # The extractor still needs 20 s of work; 5% of the next 9 s goes to it meanwhile.
    assert left.quality(Quality(100, "preparing", work_left=20.0)) == pytest.approx(9 + 19.55)
    now[0] = 4.0  # between reports the training part counts down
    assert left.seconds() == pytest.approx(5 + 20 - 0.05 * 5)
    assert left.report(1000, 10.0, 1000) == pytest.approx(20.0 - 0.05 * 0)
    now[0] = 12.0
    assert left.quality(Quality(1000, "preparing", work_left=7.5)) == pytest.approx(7.5)
    assert left.training_left() == 0.0
    # A ready monitor measures once more at the end; a switched-off one adds nothing.
    assert left.quality(Quality(1000, "ready", seconds=0.4, work_left=0.4)) == pytest.approx(0.4)
    assert left.quality(Quality(1000, "preparing", work_left=None)) == math.inf  # unknown
    assert left.quality(Quality(1000, "off")) == 0.0
    left.reset()
    assert left.seconds() == math.inf and left.end_work is None


def _run(eta, rates, total=100_000):
    """Feed reports every 0.1 s at ``rates`` (steps/s, one per report); the last ETA."""
    t, step, left = 0.0, 0, math.inf
    for rate in rates:
        t, step = t + 0.1, step + rate / 10
        left = eta.update(round(step), t, total)
    return left, round(step)


def test_the_window_grows_with_the_run_to_average_speed_swings_and_stops_at_a_minute():
    # 30 s at 100 steps/s, then a 4 s swing to 70 (a desktop's other programs), then back:
    # the ETA reads from half the run's time, so the swing moves it far less than a 6 s
    # window would.
    rates = [100] * 300 + [70] * 40
    grown, step = _run(RemainingTime(), rates)
    fixed, _ = _run(RemainingTime(share=0.0), rates)
    true = (100_000 - step) / 100  # the swing is over
    assert abs(grown - true) / true < 0.08 < abs(fixed - true) / true
    # However long the run, a lasting change is all of the ETA within a minute.
    left, step = _run(RemainingTime(), [100] * 4000 + [50] * 610, total=10**6)
    assert left == pytest.approx((10**6 - step) / 50, rel=1e-3)
