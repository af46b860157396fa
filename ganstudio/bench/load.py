"""`ganstudio bench --load`: training speed on an idle and on a busy machine, for each
candidate thread policy (core.threads), to choose the default.

Each measurement is a fresh process (OpenMP reads its wait policy once, at start) that trains
headless for a few seconds, the way a run does (an adaptive policy with its thread tuner,
from the first step: finding the count is part of what is measured), and reports steps/s.
"Busy" runs it beside processes that each spin one core, as a browser tab or a compile would.
The rows alternate idle and busy, and the candidates rotate between repeats, so slow drift on
the machine favours no one.
"""

from __future__ import annotations

import contextlib
import json
import os

try:
    import resource  # POSIX: page faults of the measured process
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence

from ganstudio.core import allocator, threads
from ganstudio.core.allocator import GLIBC_ENV
from ganstudio.core.threads import ThreadPolicy, environment

CANDIDATES: tuple[ThreadPolicy, ...] = (
    ThreadPolicy(0),  # PyTorch's own: one thread per core, OpenMP's waits (spin, then sleep)
    ThreadPolicy(0, wait="active"),  # ... spinning for as long as they wait
    ThreadPolicy(1, wait="passive"),  # one thread: it never waits for another
    threads.DEFAULT,  # one per core, fewer while that is slower (core.training.thread_tuner)
)

_SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


def _child(spec: str, seconds: float, policy: ThreadPolicy) -> None:
    """Inside the measured process: train ``spec`` headless, print {"steps_per_s": ...}."""
    allocator.configure()  # as the command line does
    threads.configure(policy, explicit=True)  # before PyTorch loads
    from ganstudio.bench.timing import timed_steps
    from ganstudio.core.config import TrainConfig
    from ganstudio.core.training.thread_tuner import timed, tuner_for
    from ganstudio.core.training.trainer import Trainer

    trainer = Trainer(TrainConfig(dataset=spec, device="cpu", steps=10**6))
    for _ in range(10):  # warm-up: first allocations, kernel choices
        trainer.train_step()
    trainer.drop_pending()
    tuner = tuner_for("cpu", distributed=False)
    faults = float(resource.getrusage(resource.RUSAGE_SELF).ru_minflt) if resource else 0.0
    steps, elapsed = timed_steps(trainer, seconds, lambda: timed(trainer.train_step, tuner))
    rate = steps / elapsed
    if resource:
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    print(json.dumps({"steps_per_s": rate, "faults_per_step": faults if resource else None}))


@contextlib.contextmanager
def busy_cores(n: int, seconds: float) -> Iterator[None]:
    """``n`` processes that each spin one core (for at most ``seconds``) while the block
    runs, as a browser tab or a compile would."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=seconds)]) for _ in range(n)
    ]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def measure(policy: ThreadPolicy, spec: str, seconds: float, busy: int) -> float:
    """Steps/s of a fresh training process under ``policy`` beside ``busy`` spinning cores."""
    return float(run_child(policy, spec, seconds, busy)["steps_per_s"])


def run_child(
    policy: ThreadPolicy,
    spec: str,
    seconds: float,
    busy: int = 0,
    env_updates: dict[str, str] | None = None,
) -> dict:
    """What a fresh training process reports (_child): steps/s and minor page faults per
    step (None where the system does not count them)."""
    env = dict(os.environ)
    for key in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GANSTUDIO_THREADS", *GLIBC_ENV):
        env.pop(key, None)
    env.pop(allocator.ENV, None)
    env.update(environment(policy))
    env.update(env_updates or {})
    with busy_cores(busy, seconds + 360):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ganstudio.bench.load",
                spec,
                str(seconds),
                json.dumps([policy.threads, policy.wait, policy.adaptive]),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 300,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def allocator_table(
    datasets: Sequence[str] = ("builtin:digits", "builtin:ring8"),
    seconds: float = 8.0,
    repeats: int = 3,
) -> str:
    """Steps/s and page faults per step with the C allocator's settings (core.allocator)
    against the C library's defaults (GANSTUDIO_MALLOC=default), in fresh processes that
    alternate, the first of each pair taking turns."""
    lines = [
        "training steps/s, headless, with GAN Studio's C allocator settings (core.allocator) "
        f"and with the C library's defaults; {seconds:g} s per measurement, {repeats} "
        f"pair(s); {os.cpu_count()} cores",
    ]
    if allocator.glibc() is None:
        lines.append("not glibc: the settings do nothing here, nothing to compare")
        return "\n".join(lines)
    kinds = {"GAN Studio's settings": {}, "the C library's defaults": {allocator.ENV: "default"}}
    for spec in datasets:
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        for r in range(repeats):
            order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
            for kind in order:
                results[kind].append(run_child(threads.DEFAULT, spec, seconds, 0, kinds[kind]))
        lines.append(f"\n{spec}")
        width = max(len(k) for k in kinds)
        lines.append(f"  {'setting':<{width}} {'steps/s':>9} {'faults/step':>12}")
        for kind, rows in results.items():
            rate = statistics.median(row["steps_per_s"] for row in rows)
            known = [row["faults_per_step"] for row in rows if row["faults_per_step"] is not None]
            faults = f"{statistics.median(known):12,.0f}" if known else f"{'n/a':>12}"
            lines.append(f"  {kind:<{width}} {rate:9.2f} {faults}")
        tuned, plain = (results[k] for k in kinds)
        ratios = [a["steps_per_s"] / b["steps_per_s"] for a, b in zip(tuned, plain, strict=True)]
        lines.append(
            f"  ratio settings / defaults: {statistics.median(ratios):.3f} (median of the "
            f"pairs: {', '.join(f'{x:.2f}' for x in ratios)})"
        )
    return "\n".join(lines)


def pick_default(rows: dict[ThreadPolicy, tuple[float, float]]) -> ThreadPolicy:
    """The candidate that keeps the largest share of its idle speed under load, among those
    within 5% of the best idle speed."""
    best_idle = max(idle for idle, _ in rows.values())
    fast = {p: r for p, r in rows.items() if r[0] >= 0.95 * best_idle}
    return max(fast, key=lambda p: fast[p][1] / fast[p][0])


def load_table(
    datasets: Sequence[str] = ("builtin:ring8",),
    seconds: float = 8.0,
    repeats: int = 2,
    busy: int = 1,
    candidates: Sequence[ThreadPolicy] | None = None,
) -> str:
    """The table of steps/s for each candidate (None: CANDIDATES), idle and busy."""
    candidates = CANDIDATES if candidates is None else tuple(candidates)
    lines = [
        f"training steps/s, headless, idle and beside {busy} busy core(s); {seconds:g} s per "
        f"measurement, median of {repeats}; {os.cpu_count()} cores",
    ]
    for spec in datasets:
        results: dict[ThreadPolicy, tuple[list[float], list[float]]] = {
            p: ([], []) for p in candidates
        }
        for r in range(repeats):
            order = list(candidates[r % len(candidates) :]) + list(
                candidates[: r % len(candidates)]
            )
            for policy in order:
                results[policy][0].append(measure(policy, spec, seconds, 0))
                results[policy][1].append(measure(policy, spec, seconds, busy))
        rows = {p: (statistics.median(i), statistics.median(b)) for p, (i, b) in results.items()}
        lines.append(f"\n{spec}")
        width = max(len("setting"), *(len(p.describe()) for p in rows))
        lines.append(f"  {'setting':<{width}} {'idle':>9} {'busy':>9} {'busy/idle':>10}")
        for policy, (idle, loaded) in rows.items():
            lines.append(
                f"  {policy.describe():<{width}} {idle:9.1f} {loaded:9.1f} {loaded / idle:10.2f}"
            )
        lines.append(f"  best by the rule: {pick_default(rows).describe()}")
    return "\n".join(lines)


if __name__ == "__main__":  # the measured process
    n, wait, adaptive = json.loads(sys.argv[3])
    _child(sys.argv[1], float(sys.argv[2]), ThreadPolicy(n, wait, adaptive))
