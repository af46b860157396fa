"""`ganstudio bench --gui`: what the window costs.

1. Time from launching `ganstudio` to a visible window (separate processes).
2. Training images/s with the window open and the plots streaming, against headless
   training of the same settings as `ganstudio train` runs it (writing a run folder with
   previews), alternated in one process.
3. The GUI thread's event-loop stalls while training at full speed: a 1 ms precise timer
   records when it fires; a stall is the gap between two firings beyond 1 ms.

The window runs on the user's display (see bench.display); on the offscreen platform every
window number is printed marked as not representative.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ganstudio.bench import display
from ganstudio.core.config import MAX_STEPS
from ganstudio.core.training.loop import run_training

if TYPE_CHECKING:
    from ganstudio.core.training.events import Preview, Report


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
    result: list[float] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_train_headless(fields, seconds, warmup))
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    t = threading.Thread(target=work, name="headless-bench")
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return result[0]


def _train_headless(fields: dict, seconds: float, warmup: float) -> float:
    """As `ganstudio train` runs: the same trainer writing the same run folder."""
    import tempfile

    from ganstudio.core.config import TrainConfig
    from ganstudio.core.runs.writer import RunWriter
    from ganstudio.core.training.trainer import Trainer

    trainer = Trainer(TrainConfig(**fields))
    marks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        writer = RunWriter(tmp, trainer)

        def on_report(r: Report) -> None:
            writer.on_report(r)
            marks.append((time.perf_counter(), r.step))

        def on_preview(p: Preview) -> None:
            writer.on_preview(p)

        timer = threading.Timer(warmup + seconds, trainer.control.stop)
        timer.start()
        try:
            outcome = run_training(trainer, on_report=on_report, on_preview=on_preview)
        finally:
            timer.cancel()
        writer.finish(outcome)
    return _rate(marks, warmup, trainer.resolved.batch_size * trainer.resolved.d_steps)


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


def _window_run(app, fields: dict, seconds: float, warmup: float, tmp: str, heartbeat_ms: int = 1):
    """images/s with the window training and drawing, and the event-loop gaps (ms)."""
    from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer

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
    window._validate()  # at once, not after the panel's pause for typing
    marks: list[tuple[float, int]] = []
    window.session.report.connect(lambda r: marks.append((time.perf_counter(), r.step)))
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
    window.commands.start.trigger()
    spin(app, lambda: bool(marks), 120)
    clock.start()
    if heartbeat_ms > 0:
        heartbeat.start()
    t_begin = time.perf_counter()
    spin(app, lambda: time.perf_counter() - t_begin > warmup, warmup + 5)
    measuring[0] = True
    spin(app, lambda: time.perf_counter() - t_begin > warmup + seconds, warmup + seconds + 5)
    measuring[0] = False
    heartbeat.stop()
    window.session.stop(save=False)
    spin(app, lambda: window.session.state == "idle", 60)
    started = window.latest.started
    if started is None:
        raise RuntimeError("the window's run did not start")
    batch = int(started.config["batch_size"]) * int(started.config["d_steps"])
    window.close()
    marks = [(t, s) for t, s in marks if t >= t_begin]
    return _rate(marks, warmup, batch), np.maximum(np.asarray(gaps, dtype=np.float64), 0.0)


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


def _number(value: float, spec: str) -> str:
    """``value`` formatted, or "n/a" for NaN (a run too short to time)."""
    return "n/a" if value != value else format(value, spec)


def _median(values: list[float]) -> float:
    kept = [v for v in values if v == v]
    return statistics.median(kept) if kept else float("nan")


def gui_table(
    seconds: float = 10.0,
    warmup: float = 2.0,
    repeats: int = 2,
    dataset: str = "builtin:ring8",
    launches: int = 3,
    print_fn: Callable[[str], None] = print,
) -> dict:
    """Print (and return) the window's cost, see the module docstring: ``launches`` timed
    starts of ``ganstudio`` (0: none), then ``repeats`` headless and windowed runs of
    ``warmup`` + ``seconds`` each, then one windowed run for the event-loop stalls."""
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
                f"({', '.join(f'{t:.2f}' for t in startup)}), {len(startup)} launch(es)",
                real,
            )
        )
    fields = {"dataset": dataset, "steps": MAX_STEPS, "seed": 0}
    headless: list[float] = []
    windowed: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Speed: headless and windowed runs alternate; no heartbeat timer (it would cost
        # the window a thousand wake-ups a second).
        for _ in range(repeats):
            headless.append(_headless_rate(fields, seconds, warmup))
            windowed.append(_window_run(app, fields, seconds, warmup, tmp, heartbeat_ms=0)[0])
        # Stalls: a separate run with the 1 ms heartbeat.
        gaps = _window_run(app, fields, seconds, warmup, tmp, heartbeat_ms=1)[1]
    h, w = _median(headless), _median(windowed)
    ratio = w / h if h > 0 else float("nan")
    print_fn(
        f"dataset {dataset}, default settings, {warmup:g} s warm-up + {seconds:g} s timed "
        f"per run, {repeats} run(s) each"
    )
    print_fn(
        f"headless training:        {_number(h, '12,.0f'):>12} images/s  "
        f"[{', '.join(_number(x, '.0f') for x in headless)}]"
    )
    print_fn(
        display.mark(
            f"with the window drawing:  {_number(w, '12,.0f'):>12} images/s  "
            f"[{', '.join(_number(x, '.0f') for x in windowed)}]",
            real,
        )
    )
    print_fn(
        display.mark(f"ratio window / headless:  {_number(ratio, '.3f')} (target >= 0.95)", real)
    )
    if len(gaps):
        stall_max, stall_p99 = float(gaps.max()), float(np.percentile(gaps, 99))
        print_fn(
            display.mark(
                f"GUI event-loop stalls: longest {stall_max:.1f} ms (target <= 50), "
                f"99th percentile {stall_p99:.1f} ms (target <= 20), "
                f"median {np.median(gaps):.2f} ms over {len(gaps):,} timer ticks",
                real,
            )
        )
    else:
        stall_max = stall_p99 = float("nan")
        print_fn(display.mark("GUI event-loop stalls: n/a (no timer ticks in the timed run)", real))
    return {
        "platform": platform,
        "representative": real,
        "startup": startup,
        "headless": headless,
        "window": windowed,
        "ratio": ratio,
        "stall_max": stall_max,
        "stall_p99": stall_p99,
    }
