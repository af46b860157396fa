"""The window's background tasks: the group is busy until every task's function has
returned (cancelled ones too), and says when that changes."""

import threading

from ganstudio.gui.threads import TaskGroup


def test_the_group_is_busy_until_the_last_task_ends_cancelled_or_not(qtbot):
    group = TaskGroup()
    changes: list[bool] = []
    group.busy_changed.connect(changes.append)
    release = threading.Event()
    results: list[object] = []
    first = group.run(lambda progress: 1, "quick", results.append, results.append)
    slow = group.run(lambda progress: release.wait(10) and 2, "slow", results.append, print)
    assert group.busy and changes == [True]  # one change for both
    qtbot.waitUntil(lambda: results == [1], timeout=5_000)
    assert first not in group.tasks and group.busy and changes == [True]  # the slow one runs
    slow.cancel()  # its result is dropped, but its function still runs
    qtbot.wait(50)
    assert group.busy and changes == [True]
    release.set()
    qtbot.waitUntil(lambda: changes == [True, False], timeout=5_000)
    assert not group.busy and results == [1]  # the cancelled task's answer was dropped
    group.run(lambda progress: 3, "again", results.append, results.append)
    qtbot.waitUntil(lambda: changes == [True, False, True, False], timeout=5_000)
    assert results == [1, 3]


def test_the_busy_indicator_goes_when_the_last_background_task_ends(qtbot, window):
    """A task that outlasts the engine's start (opening a model given on the command line,
    say): the indicator stays while it runs and goes when it ends (it used to stay on)."""
    release = threading.Event()
    window.tasks.run(lambda progress: release.wait(10), "stand-in", lambda r: None, print)
    qtbot.waitUntil(lambda: window.devices is not None and window.data is not None, timeout=60_000)
    assert window.status.busy.isVisibleTo(window)  # the stand-in task still runs
    release.set()
    qtbot.waitUntil(lambda: not window.status.busy.isVisibleTo(window), timeout=5_000)
