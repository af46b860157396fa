"""Benchmark: what the distributed path costs, and under torchrun how it scales.

`ganstudio bench --distributed` trains the same settings two ways in one process,
alternately: a plain Trainer, and a Trainer in a torchrun job (DistributedDataParallel G and
D, the stop agreement every SYNC_EVERY steps). Started plainly it makes a job of one process
itself, so the ratio is the overhead of the distributed path on this device. Started by
torchrun with N processes, every process times its plain trainer alone, then all of them
train together: rank 0 prints the job's images/s (all processes) against N times its own.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
from collections.abc import Callable

from ganstudio.core.config import MAX_STEPS, TrainConfig
from ganstudio.core.data import load_dataset
from ganstudio.core.device import synchronize
from ganstudio.core.training import distributed
from ganstudio.core.training.trainer import Trainer

PrintFn = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process_job(device: str) -> distributed.Cluster:
    """A job of one process, made here (as torchrun would set it up). torchrun's variables
    are set only while joining: afterwards this process does not look launched by it."""
    job_env = {
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
    }
    saved = {name: os.environ.get(name) for name in job_env}
    os.environ.update(job_env)
    try:
        return distributed.join(device)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _timed(trainer: Trainer, steps: int) -> float:
    """Seconds for ``steps`` training steps (the stop agreement included, as in a run)."""
    cluster = trainer.cluster
    synchronize(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        if cluster is not None and trainer.step % distributed.SYNC_EVERY == 0:
            cluster.any(False, False)
        trainer.train_step()
    trainer.drop_pending()
    synchronize(trainer.device)
    return time.perf_counter() - t0


def distributed_table(
    dataset: str = "builtin:digits",
    device: str = "auto",
    batch: int = 64,
    seconds: float = 10.0,
    repeats: int = 3,
    print_fn: PrintFn = print,
    steps: int | None = None,
) -> dict[str, float]:
    """Images/s of a plain trainer and of the same settings in a torchrun job (see above).
    ``batch``: the global batch of the job; the plain trainer takes one process's share.
    Each timing takes ``steps`` steps, or (None) as many as the plain trainer takes in
    about ``seconds`` (measured over 20 steps first)."""
    launched = distributed.launched_by_torchrun()
    cluster = distributed.join(device) if launched else _single_process_job(device)
    try:
        n = cluster.world_size
        data = load_dataset(dataset, seed=0)
        cfg = TrainConfig(
            dataset=dataset, batch_size=batch, steps=MAX_STEPS, seed=0, device=str(cluster.device)
        )
        plain = Trainer(cfg.with_updates(batch_size=batch // n), data)
        job = Trainer(cfg, data, cluster=cluster)
        say = print_fn if cluster.is_main else (lambda _: None)
        say(
            f"{dataset}, {job.config.arch} {job.config.loss}, global batch {batch} "
            f"({batch // n} per process), {n} process(es) on {cluster.device} "
            f"({cluster.backend}), {repeats} x "
            + (f"{steps} steps" if steps else f"~{seconds:g} s")
            + " each"
        )
        _timed(plain, 5), _timed(job, 5)  # warm-up (allocations, DDP's first buckets)
        if not steps:
            per_step = _timed(plain, 20) / 20
            steps = max(20, int(seconds / max(per_step, 1e-6)))
        # Every process must take the same number of steps in the job: the slowest decides.
        if n > 1:
            steps = cluster.min_int(steps)
        rates: dict[str, list[float]] = {"plain": [], "job": []}
        for i in range(repeats):  # alternate the order: no side gains from going first
            for name in ("plain", "job") if i % 2 == 0 else ("job", "plain"):
                trainer = plain if name == "plain" else job
                images = steps * trainer.resolved.batch_size  # the job's: all processes together
                rates[name].append(images / _timed(trainer, steps))
        p, j = statistics.median(rates["plain"]), statistics.median(rates["job"])
        ratio = j / (n * p)
        say(f"{'':<34}{'images/s':>12}")
        say(f"{'one process alone, plain trainer':<34}{p:>12,.0f}")
        say(f"{f'the job, {n} process(es) together':<34}{j:>12,.0f}")
        say(
            f"ratio job / ({n} x plain): {ratio:.3f}"
            + ("  (the distributed path's overhead)" if n == 1 else "  (scaling efficiency)")
        )
        return {"plain": p, "job": j, "ratio": ratio, "processes": n, "steps": steps}
    finally:
        cluster.close()
