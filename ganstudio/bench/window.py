"""`ganstudio bench --gui`: what the window costs, and what a user sees of training in it.

1. Time from launching `ganstudio` to a visible window (separate processes).
2. For each dataset, in one process:
   - training images/s with the window open and the plots streaming, against headless
     training of the same settings as `ganstudio train` runs it (the same session: a run
     folder, previews, quality measured in the background), in alternating pairs;
   - the window's speed beside processes spinning ``busy`` cores, against its idle speed;
   - the longest wait for a new preview while training, from Start on, over every windowed
     run;
   - the status bar's ETA against the true time left, in a run of a step budget of about
     ``eta_seconds`` that ends by itself (its final quality measurement included);
   - the GUI thread's event-loop stalls while training at full speed: a 1 ms precise timer
     records when it fires; a stall is the gap between two firings beyond 1 ms.

The benchmark keeps a feature cache of its own. The speed pairs and the busy run train with
the dataset's feature extractor already cached (made once, untimed, as a user's later runs
find it): trained in the background of each run, it moved one run's speed by 15% against the
next (headless digits, 4 runs of 10 s: spread 0.15 of the mean, against 0.013 cached), which
drowned the window's cost in noise. The ETA and stall runs are a user's first: their quality
monitor trains the extractor, and the ETA run ends with the rest of that training. The
window runs on the user's display (see bench.display); on the offscreen platform every
window number is printed marked as not representative.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ganstudio.bench import display
from ganstudio.bench.cache import cache_folder
from ganstudio.bench.load import busy_cores
from ganstudio.core.config import MAX_STEPS

if TYPE_CHECKING:
    from ganstudio.core.training.events import Report

T = TypeVar("T")


def startup_times(repeats: int = 3) -> list[float]:
    """Seconds from starting the `ganstudio` process to its window being shown, on the
    platform the window benchmarks use (the user's display; offscreen only without one)."""
    display.choose_platform()
    env = {**os.environ, "GANSTUDIO_STARTUP_PROBE": "quit"}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ganstudio"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        line = proc.stdout.readline() if proc.stdout is not None else ""
        times.append(time.perf_counter() - t0)
        proc.wait(timeout=120)
        if "window visible" not in line:
            raise RuntimeError(f"the window did not report itself visible: {line!r}")
    return times


def _headless_rate(fields: dict, seconds: float, warmup: float) -> float:
    """images/s of the core trainer alone, over ``seconds`` after ``warmup``.

    It trains in a thread of its own that ends afterwards, like the window's training
    thread: OpenMP keeps a team of worker threads per calling thread, and a team left behind
    by training on the main thread slows later training in another thread by half.
    """
    return _in_a_thread(lambda: _train_headless(fields, seconds, warmup))


def _in_a_thread(work: Callable[[], T]) -> T:
    """``work()`` run in a thread of its own that ends afterwards (its result, or its
    exception raised here)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    t = threading.Thread(target=run, name="headless-bench")
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return result[0]


def _train_headless(fields: dict, seconds: float, warmup: float) -> float:
    """As `ganstudio train` runs: the same session writing the same run folder, measuring
    quality in the background (its default), without snapshots or probes."""
    import tempfile

    from ganstudio.core.config import TrainConfig
    from ganstudio.core.runs.job import RunJob, RunSink
    from ganstudio.core.runs.session import RunSession
    from ganstudio.core.training.control import TrainControl

    marks: list[tuple[float, int]] = []
    images_per_step = [0]
    control = TrainControl()
    # The clock starts with the first report (set-up is not training), as in the window.
    timer = threading.Timer(warmup + seconds, lambda: control.stop(save=False))

    class Sink(RunSink):
        wants_snapshots = False
        wants_probes = False

        def started(self, info) -> None:
            images_per_step[0] = int(info.config["batch_size"]) * int(info.config["d_steps"])

        def report(self, report: Report) -> None:
            if not marks:
                timer.start()
            marks.append((time.perf_counter(), report.step))

    with tempfile.TemporaryDirectory() as tmp:
        job = RunJob(config=TrainConfig(**fields), runs_dir=tmp)
        try:
            RunSession(job, control, Sink()).run()
        finally:
            timer.cancel()
    return _rate(marks, warmup, images_per_step[0])


def _rate(marks: list[tuple[float, int]], warmup: float, images_per_step: int) -> float:
    """images/s between the first and the last report ``warmup`` seconds after the first
    one; NaN when fewer than two reports came after the warm-up (a run too short)."""
    if not marks:
        return float("nan")
    t_start = marks[0][0] + warmup
    kept = [(t, s) for t, s in marks if t >= t_start]
    if len(kept) < 2:
        return float("nan")
    (t0, s0), (t1, s1) = kept[0], kept[-1]
    return (s1 - s0) * images_per_step / (t1 - t0)


@dataclass
class WindowRun:
    """One run of the window. Times are seconds after Start was clicked."""

    rate: float  # images/s after the warm-up (NaN: too short to time)
    gaps: np.ndarray  # event-loop gaps (ms) beyond the heartbeat's interval; empty without one
    previews: list[float]  # when each new preview reached the window
    etas: list[tuple[float, float]]  # (when, ETA the status bar showed, in seconds)
    ended: float | None  # when the run finished by itself (a step budget); None: stopped
    trained: float  # when the last training report came (after it: the final measurement)
    stopped: float  # when the measurement ended (the run stopped, or finished)
    gui_cpu: float  # the GUI thread's CPU seconds per second, after the warm-up
    images_per_step: int  # batch size x discriminator steps of the run


def _window_run(
    app,
    fields: dict,
    tmp: str,
    seconds: float,
    warmup: float,
    heartbeat_ms: int = 0,
    to_the_end: bool = False,
) -> WindowRun:
    """The window training ``fields`` as a user would start it (Start clicked): for
    ``warmup`` + ``seconds``, or with ``to_the_end`` until its step budget is done."""
    from PySide6.QtCore import QElapsedTimer, QEvent, QSettings, Qt, QTimer

    from ganstudio.gui.window.main_window import MainWindow

    settings = QSettings(os.path.join(tmp, "bench.ini"), QSettings.Format.IniFormat)
    settings.setValue("runs_dir", os.path.join(tmp, "runs"))
    window = MainWindow(settings)
    window.ask_save_on_close = lambda: "discard"
    window.resize(1440, 900)
    window.show()
    spin(app, lambda: window.devices is not None and window.data is not None, 120)
    panel = window.setup
    panel.dataset.select_dataset(fields["dataset"])
    spin(app, lambda: window.data is not None and window.data.spec == fields["dataset"], 300)
    for name, value in fields.items():
        if name in ("steps", "width", "batch_size", "seed"):
            getattr(panel, name).setValue(value)
    window.validate_now()
    marks: list[tuple[float, int]] = []
    previews: list[float] = []
    etas: list[tuple[float, float]] = []
    ended: list[float] = []
    t_click = [0.0]

    def since_click() -> float:
        return time.perf_counter() - t_click[0]

    window.session.report.connect(lambda r: marks.append((time.perf_counter(), r.step)))
    window.session.preview.connect(lambda _p: previews.append(since_click()))
    window.session.finished.connect(lambda _r: ended.append(since_click()))
    show_eta = window.status.show_eta

    def record_eta(value: float | None) -> None:  # what the status bar is told to show
        if value is not None:
            etas.append((since_click(), value))
        show_eta(value)

    window.status.show_eta = record_eta  # type: ignore[method-assign,assignment]
    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0.0]
    measuring = [False]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if measuring[0]:
            gaps.append(now - last[0] - heartbeat.interval())
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(max(1, heartbeat_ms))
    heartbeat.timeout.connect(tick)
    t_click[0] = time.perf_counter()
    window.commands.start.trigger()
    spin(app, lambda: bool(marks), 120)
    clock.start()
    if heartbeat_ms > 0:
        heartbeat.start()
    t_begin = time.perf_counter()
    spin(app, lambda: time.perf_counter() - t_begin > warmup, warmup + 5)
    measuring[0] = True
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    if to_the_end:
        spin(app, lambda: bool(ended), 3600)
    else:
        spin(app, lambda: time.perf_counter() - t_begin > warmup + seconds, warmup + seconds + 5)
    measuring[0] = False
    heartbeat.stop()
    t_stop = time.perf_counter()
    gui_cpu = (time.thread_time() - cpu0) / max(t_stop - wall0, 1e-9)
    window.session.stop(save=False)
    spin(app, lambda: window.session.state == "idle", 60)
    started = window.latest.started
    if started is None:
        raise RuntimeError("the window's run did not start")
    batch = int(started.config["batch_size"]) * int(started.config["d_steps"])
    window.close()
    # Deleted, not only closed: its parts' connections keep a closed window alive, and its
    # timers would tick on through every later run of the benchmark.
    window.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    trained = (marks[-1][0] if marks else t_stop) - t_click[0]
    marks = [(t, s) for t, s in marks if t_begin <= t <= t_stop]
    return WindowRun(
        rate=_rate(marks, warmup, batch),
        gaps=np.maximum(np.asarray(gaps, dtype=np.float64), 0.0),
        previews=[t for t in previews if t <= t_stop - t_click[0]],
        etas=etas,
        ended=ended[0] if to_the_end and ended else None,
        trained=min(trained, t_stop - t_click[0]),
        stopped=t_stop - t_click[0],
        gui_cpu=gui_cpu,
        images_per_step=batch,
    )


def preview_waits(previews: list[float], until: float) -> tuple[float, float]:
    """How long the window went without a new preview in a run: (from Start, time 0, to the
    first preview; the longest gap after it, between two previews or from the last one to
    ``until`` seconds after Start). No preview at all: (until, until)."""
    times = sorted(t for t in previews if t <= until)
    if not times:
        return until, until
    times.append(until)
    return times[0], max(b - a for a, b in zip(times, times[1:], strict=False))


def eta_readings(
    etas: list[tuple[float, float]], ended: float, after: float
) -> list[tuple[float, float, float, float]]:
    """The ETAs shown from ``after`` seconds on while at least 3 s were left (below, a
    second's rounding is already a large share), each as (when, ETA, true time left,
    relative error |ETA - left| / left). An ETA not known yet (infinite) counts as an
    infinite error."""
    readings = []
    for t, eta in etas:
        left = ended - t
        if t >= after and left >= 3.0:
            error = abs(eta - left) / left if math.isfinite(eta) else math.inf
            readings.append((t, eta, left, error))
    return readings


def eta_errors(etas: list[tuple[float, float]], ended: float, after: float) -> list[float]:
    """The relative errors of eta_readings."""
    return [error for *_, error in eta_readings(etas, ended, after)]


def spin(app, done: Callable[[], bool], timeout: float) -> None:
    """Run the Qt event loop (as app.exec would) until ``done()`` or the timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    end = time.perf_counter() + timeout
    expired = [False]

    def check() -> None:
        if done():
            loop.quit()
        elif time.perf_counter() > end:
            expired[0] = True
            loop.quit()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(check)
    poll.start()
    if not done():
        loop.exec()
    poll.stop()
    if expired[0]:
        raise TimeoutError("the window did not get there in time")


def cache_features(dataset: str) -> None:
    """Put ``dataset``'s feature extractor in the cache, as the quality monitor of a run
    would find it after a first run."""
    from ganstudio.core.data.load import load_dataset
    from ganstudio.core.device import pick_device
    from ganstudio.core.quality.features import get_extractor

    # In a thread that ends, as every training here: an OpenMP team left on the main
    # thread halves the speed of the training threads after it (see _headless_rate).
    _in_a_thread(lambda: get_extractor(load_dataset(dataset), pick_device("auto")))


def _number(value: float, spec: str) -> str:
    """``value`` formatted, or "n/a" for NaN (a run too short to time)."""
    return "n/a" if value != value else format(value, spec)


def _median(values: list[float]) -> float:
    kept = [v for v in values if v == v]
    return statistics.median(kept) if kept else float("nan")


def median_interval(values: list[float], confidence: float = 0.9) -> tuple[float, float, float]:
    """A distribution-free interval for the median of the population ``values`` were drawn
    from: (low, high, its coverage). From the order statistics: the k-th smallest and k-th
    largest, with the largest k whose coverage, 1 - 2 P(Binomial(n, 1/2) < k), is at least
    ``confidence``; with too few values for that, the smallest and largest, with the
    coverage they have. NaNs are left out; none left: (NaN, NaN, 0)."""
    kept = sorted(v for v in values if v == v)
    n = len(kept)
    if n == 0:
        return float("nan"), float("nan"), 0.0

    def coverage(k: int) -> float:  # P(x_(k) <= median <= x_(n-k+1))
        below = sum(math.comb(n, i) for i in range(k)) / 2**n
        return 1.0 - 2.0 * below

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    return kept[k - 1], kept[n - k], coverage(k)


def _measure_dataset(
    app,
    dataset: str,
    seconds: float,
    warmup: float,
    repeats: int,
    busy: int,
    eta_seconds: float,
    tmp: str,
) -> dict:
    """The window's numbers on one dataset (gui_table)."""
    fields = {"dataset": dataset, "steps": MAX_STEPS, "seed": 0}
    headless: list[float] = []
    windowed: list[WindowRun] = []
    with cache_folder(os.path.join(tmp, "warm")):
        cache_features(dataset)
        # Speed: headless and windowed runs alternate (pairs, so drift on the machine
        # cancels in each pair's ratio); no heartbeat timer (it would cost the window a
        # thousand wake-ups a second).
        for _ in range(repeats):
            headless.append(_headless_rate(fields, seconds, warmup))
            windowed.append(_window_run(app, fields, tmp, seconds, warmup))
        with busy_cores(busy, warmup + seconds + 360):
            loaded = _window_run(app, fields, tmp, seconds, warmup)
    # The ETA: a run whose step budget takes about eta_seconds at the speed just measured.
    eta_run = None
    window_rate = _median([r.rate for r in windowed])
    if eta_seconds > 0 and window_rate == window_rate:
        steps = max(10, round(window_rate * eta_seconds / windowed[0].images_per_step))
        eta_run = _window_run(app, {**fields, "steps": steps}, tmp, 0.0, 0.0, to_the_end=True)
        eta_run.etas = [
            (t, e) for t, e in eta_run.etas if eta_run.ended is None or t <= eta_run.ended
        ]
    # Stalls: a separate run with the 1 ms heartbeat.
    stalls = _window_run(app, fields, tmp, seconds, warmup, heartbeat_ms=1)
    runs = {f"idle run {i + 1}": r for i, r in enumerate(windowed)}
    runs.update({"run beside the busy cores": loaded, "stalls run": stalls})
    if eta_run is not None:
        runs["ETA run"] = eta_run
    # New previews while the run trains: after its last step (a run to the end) comes the
    # final measurement, which has no new samples to show.
    waits = {name: preview_waits(r.previews, r.trained) for name, r in runs.items()}
    worst_first = max(waits, key=lambda name: waits[name][0])
    worst_gap = max(waits, key=lambda name: waits[name][1])
    pairs = [w.rate / h for w, h in zip(windowed, headless, strict=True) if h > 0]
    ratio = _median(pairs)
    eta_after = min(10.0, eta_seconds / 4)
    readings = (
        eta_readings(eta_run.etas, eta_run.ended, eta_after)
        if eta_run is not None and eta_run.ended is not None
        else []
    )
    errors = [error for *_, error in readings]
    return {
        "dataset": dataset,
        "headless": headless,
        "window": [r.rate for r in windowed],
        "ratio": ratio,
        "pairs": pairs,
        "gui_cpu": [r.gui_cpu for r in windowed],
        "busy": loaded.rate,
        "busy_share": loaded.rate / window_rate if window_rate > 0 else float("nan"),
        "first_preview": waits[worst_first][0],
        "first_preview_run": worst_first,
        "preview_gap": waits[worst_gap][1],
        "preview_gap_run": worst_gap,
        "eta_after": eta_after,
        "eta_run": eta_run,
        "eta_errors": errors,
        "eta_worst": max(readings, key=lambda r: r[3]) if readings else None,
        "gaps": stalls.gaps,
    }


def gui_table(
    seconds: float = 10.0,
    warmup: float = 2.0,
    repeats: int = 3,
    datasets: Sequence[str] = ("builtin:ring8", "builtin:digits"),
    launches: int = 3,
    busy: int = 1,
    eta_seconds: float = 40.0,
    print_fn: Callable[[str], None] = print,
) -> list[dict]:
    """Print (and return, one dict per dataset) the window's cost and behaviour, see the
    module docstring: ``launches`` timed starts of ``ganstudio`` (0: none); then for each
    dataset ``repeats`` pairs of headless and windowed runs of ``warmup`` + ``seconds``, a
    windowed run beside ``busy`` spinning cores, a windowed run of a step budget of about
    ``eta_seconds`` (0: none) to the end, for the ETA, and one windowed run for the
    event-loop stalls. Every windowed run counts for the previews."""
    import tempfile

    app = display.application()
    platform = display.platform_name()
    real = display.paints(platform)
    print_fn(display.platform_line(platform))
    startup = startup_times(launches)
    if startup:
        print_fn(
            display.mark(
                f"startup to a visible window: median {statistics.median(startup):.2f} s "
                f"({', '.join(f'{t:.2f}' for t in startup)}), {len(startup)} launch(es) "
                "(target <= 2 s)",
                real,
            )
        )
    results = []
    # A cache of its own: a run is a user's first on the dataset (the quality monitor trains
    # its feature extractor, and the ETA run ends measuring with it) unless _measure_dataset
    # fills one first.
    with tempfile.TemporaryDirectory() as tmp, cache_folder(os.path.join(tmp, "cache")):
        for dataset in datasets:
            m = _measure_dataset(app, dataset, seconds, warmup, repeats, busy, eta_seconds, tmp)
            results.append(m)
            _print_dataset(m, seconds, warmup, repeats, busy, real, print_fn)
    return results


def _print_dataset(
    m: dict,
    seconds: float,
    warmup: float,
    repeats: int,
    busy: int,
    real: bool,
    print_fn: Callable[[str], None],
) -> None:
    def line(text: str) -> None:
        print_fn(display.mark(text, real))

    h, w = _median(m["headless"]), _median(m["window"])
    print_fn(
        f"\ndataset {m['dataset']}, default settings, {warmup:g} s warm-up + {seconds:g} s "
        f"timed per run, {repeats} pair(s) of runs (and the busy run) with the feature "
        "extractor cached; the later runs train it, as a first run does"
    )
    print_fn(
        f"headless training:        {_number(h, '12,.0f'):>12} images/s  "
        f"[{', '.join(_number(x, '.0f') for x in m['headless'])}]"
    )
    line(
        f"with the window drawing:  {_number(w, '12,.0f'):>12} images/s  "
        f"[{', '.join(_number(x, '.0f') for x in m['window'])}]"
    )
    low, high, cover = median_interval(m["pairs"])
    line(
        f"ratio window / headless:  {_number(m['ratio'], '.3f')} (target >= 0.95; median of "
        f"the pairs' ratios [{', '.join(_number(x, '.2f') for x in m['pairs'])}]; "
        f"{cover:.0%} interval for the median {_number(low, '.2f')}-{_number(high, '.2f')}: "
        "a target inside it is neither shown met nor missed, more --repeats narrow it)"
    )
    line(
        f"the window's own drawing:  {_number(_median(m['gui_cpu']), '.0%')} of a core "
        f"(the GUI thread's CPU time, median of the idle windowed runs)"
    )
    line(
        f"beside {busy} busy core(s):  {_number(m['busy'], '12,.0f'):>12} images/s, "
        f"{_number(m['busy_share'], '.2f')} of the idle window's (target >= 0.80)"
    )
    line(
        f"waits for a new preview, worst of every windowed run: {m['first_preview']:.2f} s "
        f"from Start to the first ({m['first_preview_run']}), {m['preview_gap']:.2f} s "
        f"between two ({m['preview_gap_run']}) (target <= 2 s)"
    )
    run = m["eta_run"]
    if run is None or run.ended is None:
        line("ETA: n/a (no run to the end)")
    elif not m["eta_errors"]:
        line(f"ETA: n/a (the {run.ended:.1f} s run showed no ETA after {m['eta_after']:g} s)")
    else:
        errors = m["eta_errors"]
        when, shown, left, _ = m["eta_worst"]
        line(
            f"ETA against the true time left, from {m['eta_after']:g} s after Start of a "
            f"{run.ended:.1f} s run: worst {_number(max(errors), '.0%')} (at {when:.1f} s: "
            f"{_number(shown, '.1f')} s shown, {left:.1f} s left), median "
            f"{_number(statistics.median(errors), '.0%')} over {len(errors)} readings "
            f"(target <= 20%); the last training report at {run.trained:.1f} s, then the "
            "final measurement"
        )
    gaps = m["gaps"]
    if len(gaps):
        line(
            f"GUI event-loop stalls: longest {float(gaps.max()):.1f} ms (target <= 50), "
            f"99th percentile {float(np.percentile(gaps, 99)):.1f} ms (target <= 20), "
            f"median {np.median(gaps):.2f} ms over {len(gaps):,} timer ticks"
        )
    else:
        line("GUI event-loop stalls: n/a (no timer ticks in the timed run)")
