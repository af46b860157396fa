"""What measuring quality during training costs: throughput with and without the monitor.

Runs of ``seconds`` each, alternating plain and monitored, in one process, on one dataset:
- "extractor": the monitor starts with an empty cache, so it trains the feature extractor in
  slices (the heaviest phase, held to the 5% budget);
- "evaluating": the extractor is cached and measurements come as often as the budget allows
  (interval 0), the worst case of the evaluation phase; the default interval (2 minutes)
  costs less.
Prints images per second for each, the ratio monitored/plain, and the share of time the
monitor itself counted.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

from ganstudio.bench.cache import cache_folder
from ganstudio.core.config import MAX_STEPS, TrainConfig
from ganstudio.core.data import Dataset, load_dataset
from ganstudio.core.device import pick_device
from ganstudio.core.quality.monitor import QualityMonitor
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

PrintFn = Callable[[str], None]


def _run(cfg: TrainConfig, data: Dataset, seconds: float, monitor: QualityMonitor | None) -> float:
    trainer = Trainer(cfg, data)
    trainer.train_step()  # warm-up outside the clock
    trainer.flush_report()
    timer = threading.Timer(seconds, trainer.control.stop)
    start, first = time.perf_counter(), trainer.step
    timer.start()
    run_training(trainer, tasks=(monitor,) if monitor else ())
    timer.cancel()
    return (trainer.step - first) * trainer.resolved.batch_size / (time.perf_counter() - start)


def metrics_table(
    dataset: str = "builtin:digits",
    seconds: float = 30.0,
    repeats: int = 3,
    print_fn: PrintFn = print,
    feature_steps: int | None = None,
) -> list[dict[str, str | float]]:
    """Print (and return) plain against monitored throughput for each phase (see above).
    ``feature_steps``: the feature extractor's training steps (None: its default)."""
    data = load_dataset(dataset, seed=0)
    cfg = TrainConfig(dataset=dataset, steps=MAX_STEPS, device="auto")
    steps = "default" if feature_steps is None else str(feature_steps)
    print_fn(
        f"{dataset}: {seconds:g} s per run, {repeats} repeats, alternating; "
        f"feature extractor: {steps} training steps"
    )
    rows: list[dict[str, str | float]] = []
    with tempfile.TemporaryDirectory() as tmp, cache_folder(tmp) as cache:
        for phase in ("extractor", "evaluating"):
            if phase == "evaluating":  # the extractor cached, untimed
                from ganstudio.core.quality.features import get_extractor

                get_extractor(data, pick_device("auto"), steps=feature_steps)
            plain, watched, shares = [], [], []
            for _ in range(repeats):
                if phase == "extractor":  # a fresh cache each time: it trains again
                    for f in os.scandir(cache):
                        if f.is_dir():
                            for g in os.scandir(f.path):
                                os.unlink(g.path)
                monitor = QualityMonitor(
                    lambda q: None, interval=0.0, extractor_steps=feature_steps
                )
                watched.append(_run(cfg, data, seconds, monitor))
                shares.append(monitor.share())
                plain.append(_run(cfg, data, seconds, None))
            rate, monitored = statistics.median(plain), statistics.median(watched)
            share, ratio = statistics.median(shares), monitored / rate
            rows.append(
                {
                    "phase": phase,
                    "plain": rate,
                    "monitored": monitored,
                    "share": share,
                    "ratio": ratio,
                }
            )
            print_fn(
                f"  {phase:<11} plain {rate:8.0f} img/s   monitored "
                f"{monitored:8.0f} img/s   ratio {ratio:.3f}   "
                f"monitor's own share {share:.1%}"
            )
    return rows
