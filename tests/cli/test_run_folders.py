"""Run folders from the command line: `train --resume B --out A` never writes into another
run's folder; a folder another process trains into is refused (exit 2) and left alone; a
crashed run's lock is taken over; `ganstudio runs` lists the readable runs and says which
folders it left out; an output that is a FIFO is refused, not replaced."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganstudio.cli import main
from ganstudio.core.runs.layout import CONFIG, GENERATOR, LOCK, METRICS, step_checkpoints

TINY = ["--dataset", "builtin:ring8?n=2000", "--width", "8", "--batch-size", "32"]
TINY += ["--metrics-every", "0", "--device", "cpu", "-q"]


def train(*args) -> int:
    return main(["train", *TINY, *(str(a) for a in args)])


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def ends(folder: Path) -> list[dict]:
    lines = (folder / METRICS).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == "end"]


def wait_for(condition, seconds=180.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_resume_into_another_runs_folder_is_refused(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train("--steps", 5, "--out", a) == 0
    assert train("--steps", 5, "--out", b, "--seed", 3) == 0
    before = contents(a)
    capsys.readouterr()
    assert main(["train", "--resume", str(b), "--out", str(a), "--steps", "10", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {a} already holds another run") and err.count("\n") == 1
    assert f"leave --out out to continue in {b}" in err
    assert contents(a) == before
    # Into its own folder, or a new one: fine.
    assert main(["train", "--resume", str(b), "--out", str(b), "--steps", "8", "-q"]) == 0
    code = main(["train", "--resume", str(b), "--out", str(tmp_path / "c"), "--steps", "10", "-q"])
    assert code == 0
    assert (tmp_path / "c" / GENERATOR).is_file() and contents(a) == before


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.timeout(300)
def test_a_run_being_trained_is_refused_then_taken_over_after_a_crash(tmp_path, capsys):
    c = tmp_path / "c"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganstudio", "train", *TINY, "--steps", "1000000"]
    cmd += ["--checkpoint-every", "0.002", "--out", str(c)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (c / LOCK).exists() and step_checkpoints(c) or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        capsys.readouterr()
        assert main(["train", "--resume", str(c), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"error: {c} is being trained by process {proc.pid} on {socket.gethostname()} since "
        )
        assert err.rstrip().endswith(": stop it first")
        proc.send_signal(signal.SIGTERM)  # stop and save, as Slurm or torchrun would
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.wait()
    # The first process kept its log, its end record and its model; its lock is gone.
    assert [e["status"] for e in ends(c)] == ["stopped"]
    assert (c / GENERATOR).is_file() and not (c / LOCK).exists()

    # A crash (a dead process's lock) does not keep the folder from being resumed.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = {"pid": dead.pid, "host": socket.gethostname(), "started": "2030-01-01 00:00:00"}
    lock |= {"started_at": 1.0, "token": "crashed"}
    (c / LOCK).write_text(json.dumps(lock))
    step = int(step_checkpoints(c)[-1].name[5:12])
    assert main(["train", "--resume", str(c), "--steps", str(step + 3), "-q"]) == 0
    assert [e["status"] for e in ends(c)] == ["stopped", "completed"]
    assert not (c / LOCK).exists()


def test_runs_lists_the_readable_runs_and_says_what_it_left_out(tmp_path, capsys):
    assert train("--steps", 5, "--out", tmp_path / "good") == 0
    for name, content in (("list", "[1, 2]"), ("nested", "[" * 100_000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / CONFIG).write_text(content)
        (tmp_path / name / METRICS).write_text("")
    (tmp_path / "typed").mkdir()
    (tmp_path / "typed" / CONFIG).write_text('{"config": {"steps": "many"}}')
    (tmp_path / "typed" / METRICS).write_text('{"type": "train", "step": "1"}\n')
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "completed" in out and "5/5" in out
    assert "typed" not in out and "nested" not in out
    left_out = [line for line in err.splitlines() if line.startswith("warning: left out ")]
    assert len(left_out) == 3
    typed = '"config.steps" should be a whole number of steps, not "many"'
    assert any(typed in line for line in left_out)
    assert any("nested too deeply" in x for x in left_out)
    assert "Traceback" not in err

    assert main(["info", str(tmp_path / "typed")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'typed' / CONFIG} cannot be read (")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")
@pytest.mark.timeout(120)
def test_an_output_that_is_a_fifo_is_refused_not_replaced(tmp_path, capsys):
    run = tmp_path / "run"
    assert train("--steps", 5, "--out", run) == 0
    fifo = tmp_path / "samples.png"
    os.mkfifo(fifo)
    capsys.readouterr()
    assert main(["sample", str(run / GENERATOR), "--n", "16", "-o", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {fifo} is a named pipe (FIFO), not a regular file")
    assert fifo.is_fifo()
