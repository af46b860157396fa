"""RunSession, headless: every way a run can end leaves exactly one end record, one result
handed to the sink, and the files that ending calls for."""

import json
import logging
import os
from pathlib import Path

import pytest
import torch
from _locks import write_lock

from ganstudio.core.config import TrainConfig
from ganstudio.core.runs.job import RunJob, RunResult, RunSink, RunStarted
from ganstudio.core.runs.layout import (
    CHECKPOINTS,
    CONFIG,
    GENERATOR,
    LOCK,
    METRICS,
    step_checkpoints,
)
from ganstudio.core.runs.session import RunSession
from ganstudio.core.training.control import TrainControl
from ganstudio.core.training.trainer import Trainer


def tiny(**kw) -> TrainConfig:
    base = dict(
        dataset="builtin:ring8?n=2000",
        steps=30,
        batch_size=32,
        width=16,
        latent_dim=4,
        report_interval=0.0,
        preview_interval=0.0,
        device="cpu",
    )
    return TrainConfig(**{**base, **kw})


class Recorder(RunSink):
    """Keeps every call, in order; ``on_report`` lets a test act in the middle of a run."""

    def __init__(self, on_report=None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.on_report = on_report

    def status(self, text):
        self.calls.append(("status", text))

    def started(self, info):
        self.calls.append(("started", info))

    def report(self, report):
        self.calls.append(("report", report))
        if self.on_report is not None:
            self.on_report(report)

    def preview(self, preview):
        self.calls.append(("preview", preview))

    def snapshot(self, snapshot):
        self.calls.append(("snapshot", snapshot))

    def probe(self, probe):
        self.calls.append(("probe", probe))

    def quality(self, quality):
        self.calls.append(("quality", quality))

    def warning(self, warning):
        self.calls.append(("warning", warning))

    def finished(self, result):
        self.calls.append(("finished", result))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def first(self, name):
        return next(p for n, p in self.calls if n == name)


def records(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / METRICS).read_text().splitlines()]


def ends(folder) -> list[dict]:
    return [r for r in records(folder) if r["type"] == "end"]


def run(job: RunJob, control=None, sink=None) -> tuple[RunResult, Recorder]:
    sink = sink or Recorder()
    result = RunSession(job, control or TrainControl(), sink).run()
    assert sink.names().count("finished") == 1 and sink.names()[-1] == "finished"
    assert sink.first("finished") is result
    # However the run ended, its lock is gone (a refused run leaves the holder's alone).
    if result.run_folder is not None:
        assert not (Path(result.run_folder) / LOCK).exists()
    return result, sink


def test_a_completed_run_saves_its_model_and_logs_one_end(tmp_path):
    out = tmp_path / "run"
    result, sink = run(RunJob(config=tiny(), out=str(out), metrics_every=0))
    assert result.status == "completed" and result.ok and result.step == 30
    assert result.run_folder == str(out) and result.model_path == str(out / GENERATOR)
    assert (out / GENERATOR).exists() and (out / CONFIG).exists()
    assert [c.name for c in step_checkpoints(out)] == ["step_0000030.safetensors"]
    assert [e["status"] for e in ends(out)] == ["completed"]
    names = sink.names()
    assert names.count("started") == 1 and "report" in names and "preview" in names
    assert names.index("started") < names.index("report")
    started = sink.first("started")
    assert isinstance(started, RunStarted) and started.total_steps == 30
    assert started.run_folder == str(out) and not started.resumed


def test_a_new_run_without_out_gets_a_fresh_folder_under_runs_dir(tmp_path):
    result, _ = run(RunJob(config=tiny(steps=5), runs_dir=str(tmp_path), metrics_every=0))
    folder = tmp_path / next(p.name for p in tmp_path.iterdir())
    assert result.run_folder == str(folder) and folder.name.startswith("ring8-")


def test_stop_saves_a_checkpoint_and_the_model(tmp_path):
    control = TrainControl()
    out = tmp_path / "run"
    sink = Recorder(on_report=lambda r: control.stop() if r.step >= 5 else None)
    result, _ = run(RunJob(config=tiny(steps=10_000), out=str(out), metrics_every=0), control, sink)
    assert result.status == "stopped" and result.ok and 5 <= result.step < 10_000
    assert (out / GENERATOR).exists() and step_checkpoints(out)
    assert [e["status"] for e in ends(out)] == ["stopped"]


def test_stop_without_saving_writes_neither_checkpoint_nor_model(tmp_path):
    control = TrainControl()
    out = tmp_path / "run"
    sink = Recorder(on_report=lambda r: control.stop(save=False) if r.step >= 5 else None)
    job = RunJob(config=tiny(steps=10_000), out=str(out), metrics_every=0, checkpoint_every=0)
    result, _ = run(job, control, sink)
    assert result.status == "stopped" and result.model_path is None
    assert not (out / GENERATOR).exists() and not step_checkpoints(out)
    assert [e["status"] for e in ends(out)] == ["stopped"]


def test_stopped_before_the_first_step_writes_nothing(tmp_path):
    control = TrainControl()
    control.stop()
    out = tmp_path / "run"
    result, sink = run(RunJob(config=tiny(), out=str(out)), control)
    assert result.status == "stopped" and "started" not in sink.names()
    assert not out.exists()


def test_nan_losses_fail_the_run_and_keep_no_model(tmp_path, monkeypatch):
    real_init = Trainer.__init__

    def poisoned(self, *args, **kw):
        real_init(self, *args, **kw)
        with torch.no_grad():  # the discriminator's outputs become NaN
            next(self.D.parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "__init__", poisoned)
    out = tmp_path / "run"
    result, sink = run(RunJob(config=tiny(steps=50), out=str(out), metrics_every=0))
    assert result.status == "failed" and not result.ok and not result.user_error
    assert "loss became NaN at step 1" in result.message
    assert result.model_path is None and not (out / GENERATOR).exists()
    assert not step_checkpoints(out) and result.last_checkpoint is None
    assert [e["status"] for e in ends(out)] == ["failed"]


def test_running_out_of_memory_is_a_failure_with_advice(tmp_path, monkeypatch):
    def oom(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "train_step", oom)
    out = tmp_path / "run"
    result, _ = run(RunJob(config=tiny(), out=str(out), metrics_every=0))
    assert result.status == "failed" and "out of memory" in result.message
    assert "lower the batch size" in result.message
    assert [e["status"] for e in ends(out)] == ["failed"]


def test_an_unexpected_error_still_ends_the_log(tmp_path, monkeypatch, caplog):
    calls = []

    def broken(self):
        calls.append(1)
        if len(calls) > 3:
            raise ZeroDivisionError("a bug")
        real_step(self)

    real_step = Trainer.train_step
    monkeypatch.setattr(Trainer, "train_step", broken)
    out = tmp_path / "run"
    result, _ = run(RunJob(config=tiny(), out=str(out), metrics_every=0))
    assert result.status == "failed" and not result.user_error
    assert result.message.startswith("unexpected error (ZeroDivisionError: a bug)")
    assert [e["status"] for e in ends(out)] == ["failed"]
    assert "ZeroDivisionError" in caplog.text  # the traceback goes to the log


def test_a_failed_save_is_reported_and_still_ends_the_log(tmp_path, monkeypatch):
    from ganstudio.core.runs.writer import RunWriter

    def full_disk(self, path=None):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(RunWriter, "save_generator", full_disk)
    out = tmp_path / "run"
    result, _ = run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    assert result.status == "failed" and result.message.startswith("No space left on device")
    assert [e["status"] for e in ends(out)] == ["failed"]


def test_a_bad_dataset_is_the_users_error_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    result, sink = run(RunJob(config=tiny(dataset=str(tmp_path / "missing")), out=str(out)))
    assert result.status == "failed" and result.user_error
    assert "missing" in result.message and "started" not in sink.names()
    assert not out.exists()


def test_a_bad_setting_is_the_users_error(tmp_path):
    result, _ = run(RunJob(config=tiny(arch="dcgan"), out=str(tmp_path / "run")))
    assert result.user_error and "DCGAN needs an image dataset" in result.message


def test_a_new_run_never_writes_into_another_runs_folder(tmp_path):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    before = (out / METRICS).read_bytes()
    result, sink = run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    assert result.user_error and "already holds a run" in result.message
    assert (out / METRICS).read_bytes() == before


def test_resume_continues_in_the_same_folder_with_one_more_end(tmp_path):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=10), out=str(out), metrics_every=0))
    result, sink = run(RunJob(resume=str(out), steps=20, metrics_every=0))
    assert result.status == "completed" and result.step == 20
    assert result.run_folder == str(out)
    started = sink.first("started")
    assert started.resumed and started.step == 10 and len(started.history_steps) == 10
    assert [e["step"] for e in ends(out)] == [10, 20]
    assert (out / CHECKPOINTS / "step_0000020.safetensors").exists()


def test_a_checkpoint_outside_a_run_folder_needs_somewhere_to_go(tmp_path):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    loose = tmp_path / "loose.safetensors"
    loose.write_bytes(step_checkpoints(out)[-1].read_bytes())
    result, _ = run(RunJob(resume=str(loose), runs_dir=None, steps=8))
    assert result.user_error and "not inside a run folder" in result.message
    result, _ = run(RunJob(resume=str(loose), runs_dir=str(tmp_path / "runs"), steps=8))
    assert result.ok and result.run_folder.startswith(str(tmp_path / "runs"))


def test_a_job_needs_a_config_or_a_run_to_resume():
    with pytest.raises(ValueError):
        RunJob()
    with pytest.raises(ValueError):
        RunJob(config=tiny(), resume="somewhere")


def test_what_was_skipped_while_loading_reaches_the_sink(tmp_path):
    import numpy as np
    from PIL import Image

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(
            pictures / f"{i}.png"
        )
    (pictures / "broken.png").write_bytes(b"not a picture")
    job = RunJob(
        config=tiny(dataset=f"{pictures}?size=28&cache=0", steps=2, batch_size=8, width=8),
        out=str(tmp_path / "run"),
        metrics_every=0,
    )
    result, sink = run(job)
    assert result.ok, result.message
    notes = sink.first("started").data_notes
    assert len(notes) == 1 and "skipped 1 unreadable file(s), e.g." in notes[0]
    assert "broken.png" in notes[0]


# -------------------------------------------------------------------------------------
# One process at a time per run folder, and never into another run's folder


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under a folder with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_run_holds_its_folder_while_it_trains(tmp_path):
    out = tmp_path / "run"
    seen = []

    def look(report):
        seen.append(json.loads((out / LOCK).read_text()))

    job = RunJob(config=tiny(steps=5), out=str(out), metrics_every=0)
    result, _ = run(job, None, Recorder(look))
    assert result.ok and seen and all(doc["pid"] == os.getpid() for doc in seen)
    assert not (out / LOCK).exists()


@pytest.mark.parametrize("how", ["new run", "resume", "resume with out"])
def test_a_folder_another_process_trains_into_is_refused(tmp_path, sleeper, how):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    write_lock(out, pid=sleeper.pid)  # a live process holds it
    before = contents(out)
    job = {
        "new run": RunJob(config=tiny(steps=5), out=str(out), metrics_every=0),
        "resume": RunJob(resume=str(out), steps=10, metrics_every=0),
        "resume with out": RunJob(resume=str(out), out=str(out), steps=10, metrics_every=0),
    }[how]
    result, sink = run(job)
    assert result.status == "failed" and result.user_error and "started" not in sink.names()
    assert result.message.startswith(f"{out} is being trained by process {sleeper.pid} on ")
    assert result.message.endswith(": stop it first")
    assert contents(out) == before  # the lock, the log, the model: as they were


def test_a_crashed_runs_lock_is_taken_over_by_a_resume(tmp_path, dead_pid, caplog):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    write_lock(out, pid=dead_pid)
    with caplog.at_level(logging.WARNING):
        result, _ = run(RunJob(resume=str(out), steps=10, metrics_every=0))
    assert result.ok and result.step == 10 and f"left by process {dead_pid}" in caplog.text
    assert [e["step"] for e in ends(out)] == [5, 10]


def test_a_refused_start_removes_only_what_it_made(tmp_path, sleeper):
    out = tmp_path / "run"
    result, _ = run(RunJob(config=tiny(dataset=str(tmp_path / "missing")), out=str(out)))
    assert result.user_error and not out.exists()  # the folder made for the lock is gone
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result, _ = run(RunJob(config=tiny(dataset=str(tmp_path / "missing")), out=str(out)))
    assert result.user_error and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_resume_never_writes_into_another_runs_folder(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(RunJob(config=tiny(steps=5, seed=1), out=str(a), metrics_every=0))
    run(RunJob(config=tiny(steps=5, seed=2), out=str(b), metrics_every=0))
    before = contents(a)
    for source in (b, step_checkpoints(b)[-1]):
        result, sink = run(RunJob(resume=str(source), out=str(a), steps=10, metrics_every=0))
        assert result.user_error and "started" not in sink.names()
        assert result.message.startswith(f"{a} already holds another run")
        assert f"leave --out out to continue in {b}" in result.message
        assert contents(a) == before
    # Its own folder (named another way), a new one and an empty one are fine.
    result, _ = run(RunJob(resume=str(b), out=str(tmp_path / "." / "b"), steps=8, metrics_every=0))
    assert result.ok and result.step == 8 and [e["step"] for e in ends(b)] == [5, 8]
    result, _ = run(RunJob(resume=str(b), out=str(tmp_path / "c"), steps=10, metrics_every=0))
    assert result.ok and (tmp_path / "c" / GENERATOR).exists()
    (tmp_path / "d").mkdir()
    result, _ = run(RunJob(resume=str(b), out=str(tmp_path / "d"), steps=10, metrics_every=0))
    assert result.ok and (tmp_path / "d" / GENERATOR).exists()
    assert contents(a) == before


def test_a_new_run_never_writes_over_a_folder_with_only_checkpoints(tmp_path):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    for name in (CONFIG, METRICS, GENERATOR):
        (out / name).unlink()
    result, _ = run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    assert result.user_error and "already holds a run" in result.message


def test_resume_skips_damaged_log_lines_with_a_warning(tmp_path, caplog):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    with (out / METRICS).open("a") as fh:
        fh.write('{"type": "train", "step": "3"}\n{"type": "train", "step": null}\n')
        fh.write('{"type": "train", "step": 1e999}\n' + "[" * 100_000 + "\n")
    with caplog.at_level(logging.WARNING):
        result, _ = run(RunJob(resume=str(out), steps=10, metrics_every=0))
    assert result.ok, result.message
    assert "skipped 4 damaged line(s)" in caplog.text and '"step" is "3"' in caplog.text
    assert all(isinstance(r.get("step", 0), int) for r in records(out))


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda doc: [doc], "it holds a list, not an object"),
        (lambda doc: doc | {"resumed": 5}, '"resumed" should be a list of objects, not 5'),
        (lambda doc: doc | {"created": ["x"]}, '"created" should be a string, not a list'),
    ],
)
def test_resume_into_a_folder_with_damaged_settings_names_the_field(tmp_path, change, field):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    (out / CONFIG).write_text(json.dumps(change(json.loads((out / CONFIG).read_text()))))
    log = (out / METRICS).read_bytes()
    result, sink = run(RunJob(resume=str(out), steps=10, metrics_every=0))
    assert result.user_error and "started" not in sink.names()
    assert result.message == f"{out / CONFIG} cannot be read ({field})"
    assert (out / METRICS).read_bytes() == log


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")
@pytest.mark.timeout(120)
def test_a_fifo_in_place_of_the_log_is_refused_without_waiting(tmp_path):
    out = tmp_path / "run"
    run(RunJob(config=tiny(steps=5), out=str(out), metrics_every=0))
    (out / METRICS).unlink()
    os.mkfifo(out / METRICS)
    result, _ = run(RunJob(resume=str(out), steps=10, metrics_every=0))
    assert result.user_error and "metrics.jsonl is a named pipe (FIFO)" in result.message
    assert (out / METRICS).is_fifo()


def test_a_finished_or_stopped_run_logs_one_final_quality_measurement(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    for steps, stop in ((5, False), (10_000, True)):
        out = tmp_path / f"run{steps}"
        control = TrainControl()
        sink = Recorder(on_report=(lambda r, c=control: c.stop()) if stop else None)
        result, _ = run(
            RunJob(config=tiny(steps=steps), out=str(out), metrics_every=1e6), control, sink
        )
        assert result.ok
        records = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
        finals = [r for r in records if r["type"] == "quality" and r.get("final")]
        assert len(finals) == 1 and finals[0]["step"] == result.step
        assert ("status", "Measuring the final samples ...") in sink.calls


def test_closing_without_waiting_skips_the_final_measurement(tmp_path):
    out = tmp_path / "run"
    control = TrainControl()
    sink = Recorder(on_report=lambda r: control.stop(measure=False))
    result, _ = run(
        RunJob(config=tiny(steps=10_000), out=str(out), metrics_every=1e6), control, sink
    )
    assert result.status == "stopped" and (out / GENERATOR).is_file()  # still saved
    records = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    assert not [r for r in records if r["type"] == "quality"]


def test_a_run_resumes_at_the_automatic_size_it_started_with(tmp_path, monkeypatch):
    """A run whose pictures got the automatic size on a GPU (up to 256 px) resumes at that
    size on the CPU (whose own automatic size stops at 64 px)."""
    from PIL import Image

    import ganstudio.core.runs.session as session

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for k in range(8):
        Image.new("RGB", (140, 130), (30 * k, 60, 90)).save(pictures / f"{k}.png")
    config = tiny(dataset=f"{pictures}?workers=1", steps=2, batch_size=4, width=2, latent_dim=4)
    out = tmp_path / "run"
    # On "a GPU": the automatic size may reach 256 px, so these pictures get 128 px.
    monkeypatch.setattr(session, "largest_auto_size", lambda accelerator: 256)
    result, sink = run(RunJob(config=config, out=str(out), metrics_every=0))
    assert result.ok, result.message
    assert sink.first("started").dataset["sample_shape"] == [3, 128, 128]
    assert sink.first("started").config["arch"] == "fastgan"  # the automatic model at 128 px
    monkeypatch.undo()  # back on the CPU
    result, sink = run(RunJob(resume=str(out), steps=3, metrics_every=0))
    assert result.ok and result.step == 3, result.message
    assert sink.first("started").dataset["sample_shape"] == [3, 128, 128]
