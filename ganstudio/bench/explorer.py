"""`ganstudio bench --explorer`: how fast the explorer answers, on a DCGAN-64 generator.

A slider is moved 60 times a second for a few seconds (as a drag would); for every picture
that reaches the screen, the latency is the time from the slider move it shows to the end of
painting it. Moves that arrive while a render runs replace each other (newest wins), so the
count of pictures painted is reported too. Then 8x8 grids are timed from request to painted.
It runs on the user's display; on the offscreen platform its numbers are printed marked as
not representative (see bench.display).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np


def _dcgan64_model(folder: str) -> str:
    import torch

    from ganstudio.core.modelfile import save_generator
    from ganstudio.core.models import ModelSpec, build

    spec = ModelSpec("dcgan_g", {"latent_dim": 100, "image_size": 64, "channels": 3, "base": 64})
    torch.manual_seed(0)
    module = build(spec)
    state = {k: v.numpy() for k, v in module.state_dict().items() if v.is_floating_point()}
    path = os.path.join(folder, "dcgan64.safetensors")
    save_generator(path, spec, state, {"step": 0, "dataset": {"kind": "images"}})
    return path


def explorer_table(seconds: float = 5.0, grids: int = 5, print_fn: Callable = print) -> dict:
    """Print (and return) the slider latency over ``seconds`` of dragging and the time of
    ``grids`` 8x8 grids (see the module docstring)."""
    from PySide6.QtCore import QTimer

    from ganstudio.bench import display
    from ganstudio.bench.window import spin
    from ganstudio.gui.engine import open_model_task
    from ganstudio.gui.explore.panel import ExplorerPanel
    from ganstudio.gui.explore.render_thread import RenderResult

    app = display.application()
    platform = display.platform_name()
    real = display.paints(platform)
    print_fn(display.platform_line(platform))
    with tempfile.TemporaryDirectory() as tmp:
        opened = open_model_task(_dcgan64_model(tmp))(lambda d, t: None)
    panel = ExplorerPanel()
    panel.resize(1200, 800)
    panel.show()
    latencies: list[float] = []
    grid_times: list[float] = []

    def shown(result: RenderResult) -> None:  # just drawn: paint it now, then time it
        if result.purpose == "current":
            panel.view.repaint()
            latencies.append(time.perf_counter() - result.requested_at)
        elif result.purpose == "grid":
            panel.browse.view.repaint()
            grid_times.append(time.perf_counter() - result.requested_at)

    panel.picture_shown.connect(shown)
    panel.set_model(opened)
    spin(app, lambda: bool(latencies) and bool(grid_times), 120)
    latencies.clear()
    row = panel.dim_rows[0]
    moves = [0]
    positions = np.sin(np.linspace(0, 6 * np.pi, int(seconds * 60))) * 2.5

    def move() -> None:
        if moves[0] < len(positions):
            row.slider.setValue(int(positions[moves[0]] * 100))
            moves[0] += 1

    timer = QTimer()
    timer.setInterval(16)
    timer.timeout.connect(move)
    timer.start()
    spin(app, lambda: moves[0] >= len(positions), seconds + 30)
    timer.stop()
    spin(app, lambda: not panel.renderer.has_pending(), 30)
    slider = np.asarray(latencies) * 1000
    panel.browse.rows.setValue(8)
    panel.browse.cols.setValue(8)
    grid_times.clear()

    def grids_timed(count: int) -> Callable[[], bool]:
        return lambda: len(grid_times) >= count

    for i in range(grids):
        panel.browse.start_seed.setValue(1000 + 64 * i)
        spin(app, grids_timed(i + 1), 60)
    grid = np.asarray(grid_times) * 1000
    panel.close_renderer()
    panel.close()
    print_fn(
        f"slider drag on DCGAN-64 (latent 100), {len(positions)} moves in {seconds:g} s, "
        f"{len(slider)} pictures painted"
    )
    if len(slider):
        print_fn(
            display.mark(
                f"  move to picture on screen: median {np.median(slider):.1f} ms, 95th "
                f"percentile {np.percentile(slider, 95):.1f} ms (target <= 33), "
                f"max {slider.max():.1f} ms",
                real,
            )
        )
    else:
        print_fn(display.mark("  move to picture on screen: n/a (no picture painted)", real))
    print_fn(
        display.mark(
            f"8x8 grid, request to painted: median {statistics.median(grid):.0f} ms, "
            f"max {grid.max():.0f} ms over {len(grid)} grids (target <= 250)",
            real,
        )
    )
    return {
        "platform": platform,
        "representative": real,
        "slider_p95": float(np.percentile(slider, 95)) if len(slider) else float("nan"),
        "grid_median": float(np.median(grid)),
    }
