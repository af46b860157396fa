"""The adaptive thread count: on a simulated machine whose load comes and goes, the tuner
finds the faster count soon after each change and costs little while nothing changes."""

import pytest
import torch

from ganstudio.core import threads
from ganstudio.core.training.thread_tuner import ThreadTuner, ladder, tuner_for

# steps/s of a small network on a 2-core machine: (idle, one busy core) per thread count
SPEED = {2: (100.0, 25.0), 1: (70.0, 68.0)}
# CPU time the process gets per thread and second (measured: 1.98 of 2 cores idle, 1.3 with
# one core busy; one thread keeps its core)
SHARE = {2: (0.99, 0.65), 1: (0.99, 0.98)}


class Machine:
    """A simulated machine: its clocks advance as the simulated training steps."""

    def __init__(self, speed: dict[int, tuple[float, float]] = SPEED) -> None:
        self.speed = speed
        self.threads = 2
        self.busy = False
        self.calls: list[int] = []
        self.wall = 0.0
        self.cpu = 0.0

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.calls.append(n)

    def tuner(self) -> ThreadTuner:
        return ThreadTuner(2, self.set_threads, clock=lambda: self.wall, cpu_clock=lambda: self.cpu)

    def step(self) -> float:
        dt = 1.0 / self.speed[self.threads][self.busy]
        self.wall += dt
        self.cpu += dt * self.threads * SHARE[self.threads][self.busy]
        return dt


def run(tuner: ThreadTuner, machine: Machine, seconds: float) -> tuple[float, dict[int, float]]:
    """Train for ``seconds`` of simulated time: (steps done, seconds spent on each count)."""
    t, steps, spent = 0.0, 0.0, {1: 0.0, 2: 0.0}
    while t < seconds:
        threads = machine.threads
        dt = machine.step()
        spent[threads] += dt
        tuner.stepped(dt)
        t += dt
        steps += 1
    return steps, spent


def test_the_ladder_halves_down_to_one():
    assert ladder(8) == (8, 4, 2, 1)
    assert ladder(6) == (6, 3, 1)
    assert ladder(2) == (2, 1)
    assert ladder(1) == (1,)


def test_an_idle_machine_keeps_all_cores_and_tries_fewer_rarely():
    machine = Machine()
    tuner = machine.tuner()
    run(tuner, machine, 15)
    assert machine.calls == []  # no early trial: its threads had their cores
    steps, spent = run(tuner, machine, 285)
    assert tuner.current == 2 and tuner.switches == 0
    assert tuner.share == pytest.approx(0.99)
    # Losing trials back off to one a minute: a few windows on one thread in 5 minutes.
    assert 2 <= machine.calls.count(1) <= 7
    assert spent[1] < 0.03 * 300
    assert steps > 0.98 * 285 * SPEED[2][0]


def test_a_team_slowed_by_the_process_s_own_threads_is_tried_against_fewer():
    # The window's painting takes part of a core: the CPU time counts it as the process's
    # own (no contention seen), but one thread trains faster (ring8 in the window on Xvfb).
    machine = Machine(speed={2: (50.0, 50.0), 1: (60.0, 60.0)})
    tuner = machine.tuner()
    _, spent = run(tuner, machine, 30)
    assert tuner.current == 1 and spent[2] < 25


def test_a_busy_core_moves_training_to_one_thread_within_seconds_and_back_when_it_ends():
    machine = Machine()
    tuner = machine.tuner()
    run(tuner, machine, 30)
    assert tuner.current == 2
    machine.busy = True
    _, spent = run(tuner, machine, 5)
    assert tuner.current == 1
    assert spent[2] < 2.5  # found within two windows of the slowdown
    steps, spent = run(tuner, machine, 120)  # a steady busy machine: rarely disturbed
    assert tuner.current == 1 and spent[2] < 0.05 * 120
    assert steps > 0.9 * 120 * SPEED[1][1]
    machine.busy = False
    _, spent = run(tuner, machine, 70)  # idle again: found at the next periodic trial
    assert tuner.current == 2
    tuner.close()
    assert machine.threads == 2


def test_a_stalled_team_is_left_within_seconds_though_each_step_takes_over_a_second(
    monkeypatch,
):
    # A training thread at a lower priority beside a busy core (or any team whose thread
    # shares a core with a greedier one): the team of two waits for the thread that shares
    # the core, and a step takes 1.4 s (measured on ring8 at nice 10), against 45 steps/s
    # on one thread.
    monkeypatch.setitem(SPEED, 2, (100.0, 0.7))
    monkeypatch.setitem(SHARE, 2, (0.99, 0.5))
    machine = Machine()
    machine.busy = True
    tuner = machine.tuner()
    _, spent = run(tuner, machine, 10)
    assert tuner.current == 1
    assert spent[2] < 5.0  # before: settling and three-step windows took 8 s


def test_close_gives_back_all_cores_for_the_next_run():
    machine = Machine()
    machine.busy = True
    tuner = machine.tuner()
    run(tuner, machine, 10)
    assert machine.threads == 1
    tuner.close()
    assert machine.threads == 2


def test_one_core_has_nothing_to_tune():
    calls: list[int] = []
    tuner = ThreadTuner(1, calls.append)
    for _ in range(1000):
        tuner.stepped(0.01)
    assert calls == []


def test_only_an_adaptive_policy_on_the_cpu_alone_gets_a_tuner(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(threads, "_applied", None)
    assert tuner_for("cpu", False) is None  # nobody configured the process (a library user)
    monkeypatch.setattr(threads, "_applied", threads.DEFAULT)
    tuner = tuner_for("cpu", False)
    assert tuner is not None and tuner.counts == (4, 2, 1)
    assert tuner_for("cuda", False) is None
    assert tuner_for("cpu", True) is None  # a torchrun job keeps its share
    monkeypatch.setattr(threads, "_applied", threads.parse("2"))
    assert tuner_for("cpu", False) is None  # --threads N is fixed


@pytest.mark.parametrize("text", ["adaptive", " Adaptive "])
def test_adaptive_can_be_asked_for_by_name(text):
    assert threads.parse(text) == threads.DEFAULT and threads.DEFAULT.adaptive


def test_a_users_omp_num_threads_keeps_the_count_fixed(monkeypatch):
    monkeypatch.setattr(threads, "_applied", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    threads.configure(threads.DEFAULT)
    applied = threads.applied()
    assert applied is not None and not applied.adaptive
