"""The background quality monitor: its events, its time budget, its cache use, and that it
never changes the run or stops it."""

import time

import numpy as np
import pytest
import torch

from ganstudio.core.config import TrainConfig
from ganstudio.core.data import load_dataset
from ganstudio.core.quality import features
from ganstudio.core.quality.monitor import QualityMonitor
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def run(trainer, monitor):
    outcome = run_training(trainer, tasks=(monitor,))
    assert outcome.status == "completed"


def test_points_metrics_come_with_their_floor_within_the_budget():
    events = []
    cfg = TrainConfig(dataset="builtin:ring8?n=2000", steps=800, width=32, batch_size=64)
    trainer = Trainer(cfg.with_updates(report_interval=0.0))
    monitor = QualityMonitor(events.append, interval=0.0, samples=500)
    run(trainer, monitor)
    ready = [q for q in events if q.status == "ready"]
    assert events[0].status == "preparing" and len(ready) >= 2
    q = ready[-1]
    assert {"fd", "kid", "precision", "recall", "score"} <= q.metrics.keys()
    assert q.floor.keys() == q.metrics.keys()
    assert q.floor["fd"] < q.metrics["fd"] or q.metrics["fd"] < 0.05
    assert 0 < q.diversity < 2
    # What it costs is measured by `ganstudio bench --metrics`, not asserted here.
    assert monitor.spent > 0 and monitor.evaluations == len(ready)
    assert [e.step for e in ready] == sorted(e.step for e in ready)


def test_image_extractor_is_trained_in_slices_cached_and_reused():
    data = load_dataset("builtin:digits?n=600", seed=0)
    cfg = TrainConfig(steps=5000, width=8, batch_size=16, report_interval=0.0)

    def until_ready(events):
        trainer = Trainer(cfg, data)

        def on_quality(q):
            events.append(q)
            if q.status == "ready":
                trainer.control.stop()

        monitor = QualityMonitor(
            on_quality, interval=0.0, budget=0.5, samples=100, extractor_steps=30
        )
        run_training(trainer, tasks=(monitor,))
        return monitor

    events = []
    until_ready(events)
    preparing = [q.progress for q in events if q.status == "preparing"]
    assert len(preparing) >= 3 and preparing == sorted(preparing) and preparing[0] < 0.5
    ready = [q for q in events if q.status == "ready"]
    assert ready, [q.message for q in events]
    assert "classifier" in ready[0].message and ready[0].metrics["score"] > 0
    assert features.cache_path(data.info.fingerprint).is_file()
    # A second run finds the extractor in the cache: no training slices this time.
    again = []
    second = until_ready(again)
    assert second.state == "ready" and any(q.status == "ready" for q in again)
    assert not [q for q in again if q.status == "preparing" and q.progress < 1.0]


def test_the_monitor_never_changes_the_run(gaussian_points):
    cfg = TrainConfig(steps=40, width=8, batch_size=16, ema=0.9, report_interval=0.0)
    plain, watched = Trainer(cfg, gaussian_points), Trainer(cfg, gaussian_points)
    run_training(plain)
    events = []
    # budget 1: it works at every report, as often as it can.
    run(watched, QualityMonitor(events.append, interval=0.0, budget=1.0, samples=64))
    assert sum(q.status == "ready" for q in events) >= 5
    for name in ("G", "D", "G_ema"):
        a, b = getattr(plain, name).state_dict(), getattr(watched, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(plain.history()[1], watched.history()[1])


def test_a_failing_measurement_turns_metrics_off_and_training_goes_on(gaussian_points, monkeypatch):
    import ganstudio.core.quality.evaluation as evaluation

    def broken(*args, **kwargs):
        raise RuntimeError("feature space exploded")

    monkeypatch.setattr(evaluation, "Evaluator", broken)
    events = []
    cfg = TrainConfig(steps=30, width=8, batch_size=16, report_interval=0.0)
    trainer = Trainer(cfg, gaussian_points)
    monitor = QualityMonitor(events.append, interval=0.0, budget=1.0)
    run(trainer, monitor)
    assert trainer.step == 30 and monitor.state == "off"
    off = [q for q in events if q.status == "off"]
    assert len(off) == 1 and "feature space exploded" in off[0].message


def test_a_run_too_short_for_the_budget_still_ends_with_one_final_measurement():
    data = load_dataset("builtin:digits?n=600", seed=0)
    trainer = Trainer(TrainConfig(steps=3, width=8, batch_size=16, report_interval=0.0), data)
    events = []
    # The budget never lets the monitor start during three steps (its next slot is far away).
    monitor = QualityMonitor(
        events.append, interval=1e6, budget=1e-9, samples=100, extractor_steps=20
    )
    run(trainer, monitor)
    assert not [q for q in events if q.status == "ready"]
    assert monitor.final(trainer)
    ready = [q for q in events if q.status == "ready"]
    assert len(ready) == 1 and ready[0].final and ready[0].step == 3
    assert "fd" in ready[0].metrics and ready[0].floor
    preparing = [q for q in events if q.status == "preparing"]
    assert preparing and preparing[-1].progress == 1.0  # the extractor's training was shown
    assert not monitor.final(trainer)  # this step is measured already


def test_a_run_whose_last_measurement_is_of_its_last_step_sends_that_one_as_final(
    gaussian_points,
):
    events = []
    trainer = Trainer(TrainConfig(steps=20, width=8, batch_size=16), gaussian_points)
    monitor = QualityMonitor(events.append, interval=0.0, budget=1.0, samples=200)
    run(trainer, monitor)
    for _ in range(10):  # whatever preparing is left, then a measurement of the last step
        if monitor.evaluations and events[-1].step == trainer.step:
            break
        monitor(trainer)
    last, evaluations = events[-1], monitor.evaluations
    assert last.status == "ready" and last.step == 20 and not last.final
    assert monitor.final(trainer)
    assert monitor.evaluations == evaluations  # nothing measured twice
    assert events[-1].final and events[-1].step == 20 and events[-1].metrics == last.metrics
    assert not monitor.final(trainer)  # sent once


def test_preparing_events_say_how_much_work_is_left_before_the_first_measurement():
    data = load_dataset("builtin:digits?n=600", seed=0)
    trainer = Trainer(TrainConfig(steps=2, width=8, batch_size=16), data)
    events, times = [], []
    clock = time.perf_counter

    def on_quality(q):
        events.append(q)
        times.append(clock())

    monitor = QualityMonitor(on_quality, budget=1e-9, samples=100, extractor_steps=60)
    assert monitor.final(trainer)
    end = clock()
    preparing = [(q, t) for q, t in zip(events, times) if q.status == "preparing"]
    known = [(q.work_left, end - t) for q, t in preparing if q.work_left is not None]
    assert len(known) >= 3 and preparing[0][0].work_left is None  # no speed measured yet
    lefts = [w for w, _ in known]
    # Counts down; a slice slowed by another program may lift the estimate a little (the
    # estimate is the speed measured so far: since it leaves out the first step's one-time
    # costs it no longer starts high, and on a busy machine it rose by over 10% once).
    assert all(b < a * 1.25 for a, b in zip(lefts, lefts[1:], strict=False))
    assert lefts[-1] < lefts[0] / 2
    # Within a factor of two of the truth while more than a second was left (the test
    # itself measures it, on a machine that may be busy).
    for estimate, true in known:
        if true > 1.0:
            assert 0.5 < estimate / true < 2.0
    ready = events[-1]
    assert ready.status == "ready" and ready.work_left == ready.seconds


def test_the_work_left_counts_the_metrics_own_computation(monkeypatch):
    """The real features and the first evaluation each compute the metrics after embedding
    their samples; an estimate from the embedding alone read 0.5-1 s short at a first
    run's end. Here the metrics take 0.3 s longer each (the neighbour distances sleep), and
    the last estimates before the extractor is done still meet the truth; as does the
    generator's own time to draw an evaluation's samples (here 0.3 s for the 100)."""
    from ganstudio.core.quality import evaluation

    slow = evaluation.precision_recall

    def precision_recall(*args, **kwargs):
        time.sleep(0.3)
        return slow(*args, **kwargs)

    monkeypatch.setattr(evaluation, "precision_recall", precision_recall)
    data = load_dataset("builtin:digits?n=600", seed=0)
    trainer = Trainer(TrainConfig(steps=2, width=8, batch_size=16), data)
    draw = trainer.sample

    def sample(z, *args, **kwargs):
        time.sleep(0.003 * len(z))
        return draw(z, *args, **kwargs)

    trainer.sample = sample
    events, times = [], []

    def on_quality(q):
        events.append(q)
        times.append(time.perf_counter())

    monitor = QualityMonitor(on_quality, budget=1e-9, samples=100, extractor_steps=8)
    assert monitor.final(trainer)
    end = time.perf_counter()
    known = [
        (q.message, q.work_left, end - t)
        for q, t in zip(events, times, strict=True)
        if q.status == "preparing" and q.work_left is not None
    ]
    training = [(w, true) for m, w, true in known if m.startswith("training")]
    assert training and known[-1][0].startswith("ready")
    # The extractor's last slice, then the real features and the evaluation; then the
    # evaluation alone (timed from the real features' parts).
    for estimate, true in (training[-1], known[-1][1:]):
        assert true > 0.6  # two sleeps at least
        assert abs(estimate - true) < 0.25 * true, (estimate, true)


def test_the_final_measurement_can_be_cut_short():
    data = load_dataset("builtin:digits?n=600", seed=0)
    trainer = Trainer(TrainConfig(steps=2, width=8, batch_size=16), data)
    events = []
    monitor = QualityMonitor(events.append, budget=1e-9, samples=100, extractor_steps=2000)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2  # the user gives up after two slices

    assert not monitor.final(trainer, cancelled=cancelled)
    assert not [q for q in events if q.status == "ready"]


def test_upcoming_says_what_the_next_piece_will_cost_and_nothing_when_it_is_not_due(
    gaussian_points,
):
    """The training loop sends a preview due within upcoming() before calling the monitor
    (its pieces run in the training thread): 0 when nothing is due or metrics are off, a
    slice, the real features (unknown before anything was measured), then the measured
    cost of the last piece of the same kind."""
    from ganstudio.core.quality.monitor import SLICE, UNKNOWN_PIECE

    events = []
    trainer = Trainer(TrainConfig(steps=20, width=8, batch_size=16), gaussian_points)
    later = [0.0]
    monitor = QualityMonitor(
        events.append,
        interval=100.0,
        budget=1.0,  # no wait after a piece but the interval after an evaluation
        samples=200,
        clock=lambda: time.perf_counter() + later[0],
    )
    assert monitor.upcoming() == SLICE  # the extractor: looked up, or a first slice
    monitor(trainer)
    assert monitor.state == "real" and monitor.upcoming() == UNKNOWN_PIECE
    monitor(trainer)
    assert monitor.state == "ready" and events[-1].work_left is not None
    assert monitor.upcoming() == pytest.approx(events[-1].work_left)  # half the real features
    monitor(trainer)
    assert events[-1].status == "ready"
    assert monitor.upcoming() == 0.0  # the next evaluation is 100 s away
    later[0] = 200.0
    assert monitor.upcoming() == events[-1].seconds > 0
    monitor.state = "off"
    assert monitor.upcoming() == 0.0


def test_an_image_monitor_estimates_the_real_features_from_its_extractor_training():
    from ganstudio.core.quality.monitor import SLICE, UNKNOWN_PIECE

    data = load_dataset("builtin:digits?n=600", seed=0)
    trainer = Trainer(TrainConfig(steps=2, width=8, batch_size=16), data)
    monitor = QualityMonitor(
        lambda q: None, budget=1.0, interval=0.0, samples=100, extractor_steps=20
    )
    seen = []
    while monitor.state != "ready":
        seen.append((monitor.state, monitor.upcoming()))
        monitor(trainer)
    assert ("training", SLICE) in seen
    real = [u for state, u in seen if state == "real"]
    assert len(real) == 1 and 0 < real[0] != UNKNOWN_PIECE
