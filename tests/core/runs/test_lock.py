"""run.lock: one process at a time writes a run folder. A live holder (this process, or a
sleeping child) is a clear refusal; a dead one's lock is taken over; another host's lock
holds unless it is an earlier attempt of the same torchrun job; a damaged lock is refused."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
from _locks import write_lock

from ganstudio.core.runs.layout import LOCK
from ganstudio.core.runs.lock import (
    LockHolder,
    RunFolderBusy,
    RunLock,
    holder_alive,
    read_lock,
    torchrun_attempt,
)


def test_the_lock_says_who_and_goes_away(tmp_path):
    run = tmp_path / "run"
    lock = RunLock.acquire(run)
    doc = json.loads((run / LOCK).read_text())
    assert doc["pid"] == os.getpid() and doc["host"] == socket.gethostname()
    assert doc["started"] and doc["token"] and doc["torchrun"] is None
    holder = read_lock(run)
    assert holder == lock.holder and holder.alive() is True and holder_alive(run) is True
    lock.release()
    assert not (run / LOCK).exists() and read_lock(run) is None and holder_alive(run) is None


def test_a_folder_made_for_the_lock_goes_away_when_nothing_was_written(tmp_path):
    lock = RunLock.acquire(tmp_path / "a" / "b" / "run")
    assert (tmp_path / "a" / "b" / "run" / LOCK).exists()
    lock.release()
    assert list(tmp_path.iterdir()) == []
    lock = RunLock.acquire(tmp_path / "run")
    (tmp_path / "run" / "config.json").write_text("{}")
    lock.release()
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["config.json"]


def test_a_second_writer_in_this_process_is_refused(tmp_path):
    run = tmp_path / "run"
    first = RunLock.acquire(run)
    with pytest.raises(RunFolderBusy) as err:
        RunLock.acquire(run)
    assert str(err.value).startswith(
        f"{run} is being trained by process {os.getpid()} (this program) on "
        f"{socket.gethostname()} since {first.holder.started}: stop it first"
    )
    assert read_lock(run) == first.holder  # untouched
    first.release()


def test_a_live_process_holds_the_folder(tmp_path, sleeper):
    run = tmp_path / "run"
    write_lock(run, pid=sleeper.pid)
    with pytest.raises(RunFolderBusy, match=f"is being trained by process {sleeper.pid} on "):
        RunLock.acquire(run)
    assert holder_alive(run) is True
    assert json.loads((run / LOCK).read_text())["pid"] == sleeper.pid


def test_a_dead_process_lock_is_taken_over(tmp_path, dead_pid, caplog):
    run = tmp_path / "run"
    write_lock(run, pid=dead_pid)
    assert holder_alive(run) is False
    with caplog.at_level(logging.WARNING, "ganstudio.core.runs.lock"):
        lock = RunLock.acquire(run)
    assert f"taking over the lock left by process {dead_pid}" in caplog.text
    assert read_lock(run).token == lock.holder.token
    lock.release()
    assert sorted(p.name for p in run.iterdir()) == []


def test_a_killed_holder_leaves_a_lock_that_is_taken_over(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ganstudio.core.runs.lock import RunLock; "
            "RunLock.acquire(sys.argv[1]); print('locked', flush=True); time.sleep(120)",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match=f"process {proc.pid} on"):
            RunLock.acquire(run)
    finally:
        proc.kill()
        proc.wait()
    RunLock.acquire(run).release()


def test_a_reused_process_id_or_a_restarted_machine_is_stale(tmp_path):
    run = tmp_path / "run"
    me = LockHolder.this_process()
    if me.process_start is not None:  # Linux: this pid, but started at another time
        write_lock(run, process_start=me.process_start + 1)
        assert holder_alive(run) is False
    if me.boot_id is not None:  # before the machine last started
        write_lock(run, boot_id="another-boot")
        assert holder_alive(run) is False
    write_lock(run, process_start=me.process_start, boot_id=me.boot_id)
    assert holder_alive(run) is True


def test_another_hosts_lock_holds_and_says_what_to_do(tmp_path, dead_pid):
    run = tmp_path / "run"
    write_lock(run, pid=dead_pid, host="node-17.cluster")
    assert holder_alive(run) is None  # cannot be checked from here
    with pytest.raises(RunFolderBusy) as err:
        RunLock.acquire(run)
    text = str(err.value)
    assert f"is being trained by process {dead_pid} on node-17.cluster" in text
    assert f"delete {run / LOCK}" in text


@pytest.mark.parametrize(
    "theirs, mine, taken_over",
    [
        (("job-1", 0), ("job-1", 1), True),  # torchrun restarted the job: its own lock
        (("job-1", 2), ("job-1", 3), True),
        (("job-1", 1), ("job-1", 1), False),  # the same attempt: another rank 0?
        (("job-1", 0), ("job-2", 1), False),  # another job
        (None, ("job-1", 1), False),
    ],
)
def test_a_torchrun_restart_takes_over_its_own_jobs_lock(tmp_path, theirs, mine, taken_over):
    run = tmp_path / "run"
    torchrun = None if theirs is None else {"run_id": theirs[0], "restart": theirs[1]}
    write_lock(run, host="node-3", torchrun=torchrun)
    if taken_over:
        lock = RunLock.acquire(run, torchrun=mine)
        assert read_lock(run).torchrun == mine
        lock.release()
    else:
        with pytest.raises(RunFolderBusy, match="on node-3"):
            RunLock.acquire(run, torchrun=mine)


def test_torchrun_attempt_from_the_environment():
    assert torchrun_attempt({}) is None
    env = {"TORCHELASTIC_RUN_ID": "abc", "TORCHELASTIC_RESTART_COUNT": "2"}
    assert torchrun_attempt(env) == ("abc", 2)
    assert torchrun_attempt({"TORCHELASTIC_RUN_ID": "abc"}) == ("abc", 0)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"[" * 100_000,
        b'{"pid": "12", "host": "h", "started": "s", "started_at": 1, "token": "t"}',
        b'{"pid": 1e999, "host": "h", "started": "s", "started_at": 1, "token": "t"}',
        b'{"pid": 12, "host": null, "started": "s", "started_at": 1, "token": "t"}',
        b'{"pid": 99999999999999999999, "host": "h", "started": "s", "started_at": 1, '
        b'"token": "t"}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_lock_is_refused_and_left_alone(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_bytes(content)
    with pytest.raises(RunFolderBusy, match=f"{LOCK} cannot be read .*delete it"):
        RunLock.acquire(run)
    assert (run / LOCK).read_bytes() == content
    assert holder_alive(run) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")
@pytest.mark.timeout(30)
def test_a_fifo_for_a_lock_is_refused_without_waiting(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / LOCK)
    with pytest.raises(RunFolderBusy, match="named pipe"):
        RunLock.acquire(run)
    assert holder_alive(run) is None


def test_a_run_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(OSError, match="is a regular file, not a folder"):
        RunLock.acquire(tmp_path / "run")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="file is a regular file, not a folder"):
        RunLock.acquire(tmp_path / "file" / "run")


def test_release_leaves_a_lock_another_process_took(tmp_path, caplog):
    run = tmp_path / "run"
    lock = RunLock.acquire(run)
    write_lock(run, token="taken-since")
    with caplog.at_level(logging.WARNING, "ganstudio.core.runs.lock"):
        lock.release()
    assert read_lock(run).token == "taken-since" and "taken by another process" in caplog.text
