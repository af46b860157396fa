"""Run folders with wrong content: a config.json of the wrong shape or with wrong-typed
fields is one error naming the file and the field (and one such folder never hides the
others from a listing); a damaged metrics line is skipped with a warning; a FIFO or a
device in place of a file is refused without waiting; nothing is allocated beyond reason."""

import json
import logging
import math
import os

import pytest
from _locks import write_lock

from ganstudio.core.runs.follow import RunFollower
from ganstudio.core.runs.layout import CHECKPOINTS, CONFIG, METRICS
from ganstudio.core.runs.reader import (
    RunFolderError,
    find_checkpoint,
    iter_metrics,
    list_runs,
    parse_metrics,
    read_run_config,
    scan_runs,
    summarize,
    tail_metrics,
)
from ganstudio.core.runs.records import curve_points, newest_coverage

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")

GOOD = {
    "config": {"dataset": "builtin:ring8", "steps": 100, "arch": "mlp", "loss": "hinge"},
    "dataset": {"name": "ring8", "kind": "points", "modes": [[1.0, 0.0], [0.0, 1.0]]},
    "device": "cpu",
    "processes": 1,
    "resumed": [{"step": 10, "at": "2030-01-01T00:00:00"}],
    "created": "2030-01-01T00:00:00",
}


def train(step, **kw):
    return {"type": "train", "step": step, "time": step * 0.1, "g_loss": 0.7, "d_loss": 1.3} | kw


def make_run(folder, config=GOOD, lines=None):
    lines = (train(1), train(2)) if lines is None else lines
    folder.mkdir(parents=True)
    text = config if isinstance(config, (str, bytes)) else json.dumps(config)
    (folder / CONFIG).write_bytes(text.encode() if isinstance(text, str) else text)
    (folder / METRICS).write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def with_field(name, value):
    doc = json.loads(json.dumps(GOOD))
    *path, last = name.split(".")
    here = doc
    for part in path:
        here = here[part]
    here[last] = value
    return doc


# -------------------------------------------------------------------------------------
# config.json

BAD_CONFIGS = {
    "a list": ([GOOD], "it holds a list, not an object"),
    "a number": ("12", "it holds 12, not an object"),
    "no config": ({"device": "cpu"}, '"config" is missing, not an object'),
    "config a list": ({"config": [1]}, '"config" is a list, not an object'),
    "steps a string": (
        with_field("config.steps", "many"),
        '"config.steps" should be a whole number of steps, not "many"',
    ),
    "steps infinite": ('{"config": {"steps": 1e999}}', '"config.steps" should be a whole'),
    "steps negative": (with_field("config.steps", -3), '"config.steps" should be a whole'),
    "steps fractional": (with_field("config.steps", 2.5), '"config.steps" should be a whole'),
    "steps a bool": (with_field("config.steps", True), '"config.steps" should be a whole'),
    "steps huge": (with_field("config.steps", 10**30), '"config.steps" should be a whole'),
    "arch a number": (with_field("config.arch", 3), '"config.arch" should be a string, not 3'),
    "dataset a string": (with_field("dataset", "ring8"), '"dataset" should be an object'),
    "modes not points": (
        with_field("dataset.modes", [["a", "b"]]),
        '"dataset.modes" should be a list of points',
    ),
    "processes zero": (with_field("processes", 0), '"processes" should be a whole number'),
    "resumed a number": (with_field("resumed", 5), '"resumed" should be a list of objects'),
    "device a list": (with_field("device", ["cpu"]), '"device" should be a string, not a list'),
    "nested deeply": ('{"config": ' + "[" * 100_000, "not JSON: nested too deeply"),
    "not JSON": ('{"config": ', "not JSON"),
    "not UTF-8": (b'{"config": "\xff"}', "not JSON"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_a_damaged_config_is_one_error_naming_the_file_and_field(tmp_path, name):
    content, expected = BAD_CONFIGS[name]
    run = make_run(tmp_path / "run", content)
    for read in (read_run_config, summarize, RunFollower):
        with pytest.raises(RunFolderError) as err:
            read(run)
        assert str(err.value).startswith(f"{run / CONFIG} cannot be read (")
        assert expected in str(err.value)


def test_absent_or_null_fields_are_fine(tmp_path):
    doc = {"config": {"steps": None, "dataset": None}, "dataset": None, "processes": None}
    run = make_run(tmp_path / "run", doc)
    s = summarize(run)
    assert s.total_steps == 0 and s.step == 2
    f = RunFollower(run)
    assert f.info.total_steps == 0 and f.info.processes == 1 and f.info.dataset == "?"


def test_a_huge_config_is_refused_without_reading_it(tmp_path):
    run = make_run(tmp_path / "run")
    with (run / CONFIG).open("r+b") as fh:
        fh.truncate(64 * 2**20)  # sparse
    with pytest.raises(RunFolderError, match="larger than 16 MB"):
        summarize(run)


def test_one_bad_folder_never_hides_the_others(tmp_path, caplog):
    make_run(tmp_path / "good")
    make_run(tmp_path / "list", [GOOD])
    make_run(tmp_path / "typed", with_field("config.steps", "x"))
    make_run(tmp_path / "nested", "[" * 100_000)
    make_run(tmp_path / "losses", GOOD, [train(1, g_loss="high", d_loss=[1])])
    runs, problems = scan_runs(tmp_path)
    assert sorted(r.folder.name for r in runs) == ["good", "losses"]
    assert sorted(p.split("/")[-2] for p in problems) == ["list", "nested", "typed"]
    losses = next(r for r in runs if r.folder.name == "losses")
    assert losses.g_loss is None and losses.d_loss is None
    with caplog.at_level(logging.WARNING):
        assert len(list_runs(tmp_path)) == 2
    assert "left out" in caplog.text and "typed" in caplog.text


# -------------------------------------------------------------------------------------
# metrics.jsonl

BAD_LINES = [
    ('{"type": "train", "step": "12"}', '"step" is "12", not a step number'),
    ('{"type": "train", "step": null}', '"step" is null, not a step number'),
    ('{"type": "train", "step": 1e999}', '"step" is Infinity, not a step number'),
    ('{"type": "train", "step": true}', '"step" is true, not a step number'),
    ('{"type": "train", "step": -5}', '"step" is -5, not a step number'),
    ('{"type": "train", "step": 1' + "0" * 40 + "}", "not a step number"),
    ('{"type": 3, "step": 4}', '"type" is 3, not a string'),
    ("[1, 2, 3]", "a list, not a JSON object"),
    ('"text"', '"text", not a JSON object'),
    ("[" * 100_000, "not JSON (nested too deeply)"),
    ('{"type": "train", "step": 3, "x": ' + "[" * 500 + "]" * 500 + "}", "nested too deeply"),
    ("{broken", "not JSON"),
]


@pytest.mark.parametrize("bad, reason", BAD_LINES)
def test_a_damaged_metrics_line_is_skipped_with_a_warning(tmp_path, caplog, bad, reason):
    text = json.dumps(train(1)) + "\n" + bad + "\n" + json.dumps(train(2.0)) + "\n"
    with caplog.at_level(logging.WARNING):
        records = parse_metrics(text, "somewhere/metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2] and all(type(r["step"]) is int for r in records)
    assert "somewhere/metrics.jsonl: skipped 1 damaged line(s)" in caplog.text
    assert reason in caplog.text
    run = make_run(tmp_path / "run")
    (run / METRICS).write_text(text)
    assert [r["step"] for r in iter_metrics(run / METRICS)] == [1, 2]
    assert "line 2: " in caplog.text
    assert [r["step"] for r in tail_metrics(run / METRICS)] == [1, 2]
    assert summarize(run).step == 2
    u = RunFollower(run).poll()
    assert [r["step"] for r in u.records] == [1, 2] and u.step == 2
    steps, stats = curve_points(u.records)
    assert steps.tolist() == [1, 2] and stats.shape == (2, 6)


def test_a_half_written_last_line_is_skipped_quietly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert parse_metrics('{"type": "train", "step": 1}\n{"type": "tr') == [
            {"type": "train", "step": 1}
        ]
    assert caplog.text == ""


def test_an_endless_line_is_skipped_not_read_whole(tmp_path, caplog):
    run = make_run(tmp_path / "run")
    with (run / METRICS).open("w") as fh:
        fh.write(json.dumps(train(1)) + "\n")
        fh.write('{"x": "' + "a" * (3 * 2**20) + '"}\n')
        fh.write(json.dumps(train(2)) + "\n")
    with caplog.at_level(logging.WARNING):
        assert [r["step"] for r in iter_metrics(run / METRICS)] == [1, 2]
    assert "line 2: longer than" in caplog.text


def test_wrong_typed_values_in_good_records_are_not_numbers(tmp_path):
    records = parse_metrics(
        json.dumps(train(1, g_loss="x", time="y", d_real=10**400))
        + "\n"
        + json.dumps({"type": "coverage", "step": 1, "modes_captured": "all", "n_modes": 8})
        + "\n"
    )
    steps, stats = curve_points(records)
    assert steps.tolist() == [1] and math.isnan(stats[0, 0]) and math.isnan(stats[0, 2])
    assert newest_coverage(records) is None  # the window formats these as numbers


# -------------------------------------------------------------------------------------
# The lock tells whether a run without an end record is going


def test_the_status_comes_from_the_lock_when_there_is_one(tmp_path, sleeper, dead_pid):
    run = make_run(tmp_path / "run")
    os.utime(run / METRICS, (1e9, 1e9))  # changed long ago: by the clock, "interrupted"
    assert summarize(run).status == "interrupted"
    write_lock(run, pid=sleeper.pid)
    assert summarize(run).status == "running"
    write_lock(run, pid=dead_pid)
    assert summarize(run).status == "interrupted"
    os.utime(run / METRICS)  # just now: still a crash, the lock says
    assert summarize(run).status == "interrupted"
    (run / "run.lock").write_text("damaged")  # cannot be told: by the clock again
    assert summarize(run).status == "running"
    u = RunFollower(run).poll()  # the follower reads no lock, and minds none
    assert u.problem == "" and [r["step"] for r in u.records] == [1, 2]


# -------------------------------------------------------------------------------------
# FIFOs and other things that are not files


@posix_only
@pytest.mark.timeout(60)
def test_fifos_in_a_run_folder_never_make_a_reader_wait(tmp_path):
    bad_log = make_run(tmp_path / "bad_log")
    (bad_log / METRICS).unlink()
    os.mkfifo(bad_log / METRICS)
    with pytest.raises(RunFolderError, match="metrics.jsonl is a named pipe"):
        summarize(bad_log)
    u = RunFollower(bad_log).poll()
    assert "metrics.jsonl" in u.problem and "named pipe" in u.problem

    bad_config = make_run(tmp_path / "bad_config")
    (bad_config / CONFIG).unlink()
    os.mkfifo(bad_config / CONFIG)
    with pytest.raises(RunFolderError, match="config.json is a named pipe"):
        RunFollower(bad_config)

    make_run(tmp_path / "good")
    runs, problems = scan_runs(tmp_path)
    assert [r.folder.name for r in runs] == ["good"] and len(problems) == 2

    (tmp_path / "good" / "previews").mkdir()
    os.mkfifo(tmp_path / "good" / "previews" / "step_0000009.png")
    (tmp_path / "good" / CHECKPOINTS).mkdir()
    os.mkfifo(tmp_path / "good" / CHECKPOINTS / "step_0000009.safetensors")
    u = RunFollower(tmp_path / "good").poll()
    assert u.preview is None and u.model is None
    with pytest.raises(RunFolderError, match="no checkpoint to resume from"):
        find_checkpoint(tmp_path / "good")
    fifo = tmp_path / "good" / CHECKPOINTS / "step_0000009.safetensors"
    with pytest.raises(RunFolderError, match="is a named pipe \\(FIFO\\): give a run folder"):
        find_checkpoint(fifo)
