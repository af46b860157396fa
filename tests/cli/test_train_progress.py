"""`ganstudio train`'s progress line: its time left follows the recent training speed, as
the window's ETA does, not the average since the start."""

import io

import numpy as np
import pytest

from ganstudio.cli.common import Progress
from ganstudio.cli.train_sink import PrintingSink
from ganstudio.core.training.events import Report


def _report(step, elapsed, total):
    one = np.ones(1)
    return Report(
        step=step, total_steps=total, steps=np.array([step]), g_loss=one, d_loss=one,
        d_real=one, d_fake=one, g_grad=one, d_grad=one, images_per_s=1.0, steps_per_s=1.0,
        elapsed=elapsed, memory=None, lr_g=2e-4, lr_d=2e-4, d_steps=1,
    )  # fmt: skip


def test_the_time_left_is_the_recent_speeds():
    sink = PrintingSink(quiet=True, cluster=None)
    stream = io.StringIO()
    sink.progress = Progress(100_000, stream=stream)
    shown = []
    real_update = sink.progress.update
    sink.progress.update = lambda step, text="", force=False, eta=None: shown.append(eta)
    t, step = 0.0, 0
    for per_report in [10] * 600 + [2] * 600:  # 60 s at 100 steps/s, then 60 s at 20
        t, step = t + 0.1, step + per_report
        sink.report(_report(step, t, 100_000))
    # From the last minute's speed (the average since the start, 60 steps/s, would say
    # three times less).
    assert shown[-1] == pytest.approx((100_000 - step) / 20, rel=0.01)
    real_update(step, force=True, eta=shown[-1])
    minutes, seconds = divmod(int(shown[-1]), 60)
    assert f"<{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" in stream.getvalue()
