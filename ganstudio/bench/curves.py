"""How fast the loss curves redraw with many points: `ganstudio bench --curves [--n POINTS]`,
or `curves_benchmark()`.

Fills a CurvesPanel with `points` steps per curve in report-sized chunks, then plays frames
as training would: append a chunk, redraw (views + setData), paint the plots. Prints the
median and maximum milliseconds of each part for the full range, a followed range and a
smoothed full range, and of a cursor move. It runs on the user's display; on the offscreen
platform every row is marked as not representative (see bench.display).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

CHUNK = 1500  # steps per report: ~10 reports a second at ~15k steps/s on a fast GPU
FOLLOWED_SPAN = 10_000  # steps shown when following a range instead of everything


def curves_benchmark(
    points: int = 1_000_000,
    print_fn: Callable[[str], object] = print,
    frames: int = 40,
    size: tuple[int, int] = (1200, 700),
) -> dict[str, dict[str, float]]:
    """Time appends, redraws and paints of a CurvesPanel holding `points` steps per curve.

    Returns {case: {"median_ms": ..., "max_ms": ...}} and prints a table with `print_fn`.
    """
    from PySide6.QtCore import QPointF

    from ganstudio.bench import display
    from ganstudio.gui.widgets.curves import CurvesPanel

    app = display.application()
    platform = display.platform_name()
    real = display.paints(platform)
    panel = CurvesPanel()
    panel.resize(*size)
    panel.show()
    app.processEvents()
    rng = np.random.default_rng(0)
    step = 0

    def next_chunk(n: int) -> tuple[np.ndarray, ...]:
        nonlocal step
        steps = np.arange(step + 1, step + n + 1, dtype=np.int64)
        step += n
        decay = np.exp(-steps / max(points / 5, 1))
        noise = rng.standard_normal((4, n)).astype(np.float32) * 0.1
        return (
            steps,
            0.7 + 0.5 * decay + noise[0],
            1.386 - 0.3 * decay + noise[1],
            0.5 + 0.3 * decay + noise[2],
            0.5 - 0.3 * decay + noise[3],
        )

    results: dict[str, dict[str, float]] = {}

    def record(name: str, seconds: list[float]) -> None:
        ms = np.asarray(seconds) * 1e3
        results[name] = {"median_ms": float(np.median(ms)), "max_ms": float(np.max(ms))}

    fill = []
    while step < points:
        chunk = next_chunk(min(CHUNK, points - step))
        start = time.perf_counter()
        panel.append(*chunk)
        fill.append(time.perf_counter() - start)
    record(f"append {CHUNK} steps x 4 curves", fill)

    def play(name: str) -> None:
        redraws, paints = [], []
        for _ in range(frames):
            panel.append(*next_chunk(CHUNK))
            start = time.perf_counter()
            panel.redraw()
            middle = time.perf_counter()
            panel.plot_widget.viewport().repaint()
            end = time.perf_counter()
            redraws.append(middle - start)
            paints.append(end - middle)
        record(f"{name}: redraw", redraws)
        record(f"{name}: paint", paints)
        record(f"{name}: redraw + paint", [r + p for r, p in zip(redraws, paints)])

    panel.set_smoothing_window(1)
    panel.set_follow(True)
    play("full range")

    view = panel.plot_widget.ci.getItem(0, 0).getViewBox()
    panel.set_follow(False)
    view.setXRange(step - FOLLOWED_SPAN, step, padding=0)
    panel.set_follow(True)  # follows a range of the current width
    play(f"followed {FOLLOWED_SPAN:,} steps")

    panel.set_follow(False)
    view.setXRange(0, step, padding=0)
    panel.set_follow(True)  # the view reaches the first step: follow everything
    panel.set_smoothing_window(100)
    play("full range, smoothing 100")

    moves = []
    for x in np.linspace(0.05, 0.95, frames) * step:
        scene_pos = view.mapViewToScene(QPointF(float(x), 1.0))
        start = time.perf_counter()
        panel.show_values_at(scene_pos)
        moves.append(time.perf_counter() - start)
    record("cursor move (readout)", moves)

    print_fn(display.platform_line(platform))
    print_fn(
        f"Curves benchmark: {points:,} points per curve, then {CHUNK:,} more per frame "
        f"({panel.point_count():,} at the end); panel {size[0]}x{size[1]} px, "
        f"{frames} frames per case"
    )
    width = max(len(name) for name in results)
    print_fn(f"  {'case':<{width}}  median ms  max ms")
    for name, r in results.items():
        print_fn(
            display.mark(f"  {name:<{width}}  {r['median_ms']:9.2f}  {r['max_ms']:6.2f}", real)
        )
    panel.close()
    panel.deleteLater()
    return results
