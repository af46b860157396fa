"""Following a run folder another process writes: incremental reads of the metrics log,
partial lines, rewritten logs, half-copied pictures and models, and nothing written."""

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from _tiny import train_tiny
from PIL import Image

from ganstudio.core.runs.follow import (
    PROBABILISTIC_LOSSES,
    STALLED_AFTER,
    RunFollower,
    safetensors_step,
)
from ganstudio.core.runs.reader import RunFolderError, read_metrics
from ganstudio.core.runs.records import (
    CURVE_COLUMNS,
    curve_points,
    newest_coverage,
    quality_events,
    status_text,
    training_warnings,
)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A run folder written by `ganstudio train` (a few steps of ring8 on the CPU)."""
    folder = tmp_path_factory.mktemp("real") / "run"
    train_tiny(
        folder, "--dataset", "builtin:ring8", "--steps", 60, "--batch-size", 64,
        "--width", 32, "--metrics-every", 0, "--preview-every", 20,
    )  # fmt: skip
    return folder


def train_record(step, g=0.7, t=None):
    return {
        "type": "train",
        "step": step,
        "time": step * 0.01 if t is None else t,
        "g_loss": g,
        "d_loss": 1.3,
        "d_real": 0.55,
        "d_fake": 0.45,
        "g_grad": 0.1,
        "d_grad": 0.2,
        "images_per_s": 1000.0,
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "d_steps": 1,
    }


def line(record) -> bytes:
    return (json.dumps(record) + "\n").encode()


def make_run(folder: Path, steps: int = 1000, loss: str = "hinge") -> Path:
    folder.mkdir(parents=True)
    doc = {
        "config": {"dataset": "builtin:digits", "steps": steps, "arch": "dcgan", "loss": loss},
        "dataset": {"name": "builtin:digits", "kind": "images", "modes": []},
        "device": "cuda:0",
        "processes": 4,
    }
    (folder / "config.json").write_text(json.dumps(doc))
    (folder / "metrics.jsonl").write_bytes(b"")
    return folder


def append(folder: Path, data: bytes) -> None:
    with (folder / "metrics.jsonl").open("ab") as fh:
        fh.write(data)


def snapshot(folder: Path) -> dict:
    """Every path under the folder with its size and modification time."""
    out = {}
    for here, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(here) / name
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns, p.is_dir())
    return out


def steps_of(records):
    return [r["step"] for r in records if r["type"] == "train"]


# -------------------------------------------------------------------------------------
# The log


def test_a_real_run_folder_reads_whole_then_nothing_new(real_run):
    before = snapshot(real_run)
    f = RunFollower(real_run)
    u = f.poll()
    assert u.info is not None and u.info.dataset == "builtin:ring8" and u.info.kind == "points"
    assert u.info.total_steps == 60 and u.info.probabilistic and len(u.info.modes) == 8
    records = read_metrics(real_run / "metrics.jsonl")
    assert len(u.records) == len(records) and u.records[-1]["type"] == "end"
    assert u.status == "completed" and u.step == 60 and not u.reset and not u.more
    assert u.preview == real_run / "previews" / "step_0000060.png" and u.preview_step == 60
    assert u.picture.dtype == np.uint8 and u.picture.shape[2] == 3
    assert u.model == real_run / "generator.safetensors" and u.model_step == 60
    steps, stats = curve_points(u.records)
    assert steps[-1] == 60 and stats.shape == (len(steps), len(CURVE_COLUMNS))
    assert np.isfinite(stats[:, :4]).all()
    again = f.poll()
    assert not again.changed and again.records == () and again.info is None
    assert again.preview is None and again.model is None and again.status == "completed"
    assert snapshot(real_run) == before  # nothing written, created or touched


def test_only_new_records_and_a_partial_line_waits(tmp_path):
    run = make_run(tmp_path / "run")
    f = RunFollower(run)
    first = f.poll()
    assert first.status == "waiting" and first.records == () and first.info.loss == "hinge"
    assert first.info.describe() == (
        "builtin:digits: DCGAN with the hinge loss on cuda:0 (x4 processes)"
    )
    assert not first.info.probabilistic
    append(run, line(train_record(1)) + line(train_record(2)))
    assert steps_of(f.poll().records) == [1, 2]
    whole = line(train_record(3))
    append(run, whole[:40])  # the writer is in the middle of a line
    u = f.poll()
    assert u.records == () and u.step == 2 and u.status == "running"
    append(run, whole[40:] + line(train_record(4))[:10])
    assert steps_of(f.poll().records) == [3]
    append(run, line(train_record(4))[10:])
    assert steps_of(f.poll().records) == [4]
    assert f.poll().records == ()


def test_earlier_bytes_are_not_read_again(tmp_path):
    """Only the appended bytes are read: a change far before the end goes unseen."""
    run = make_run(tmp_path / "run")
    append(run, b"".join(line(train_record(s)) for s in range(1, 50)))
    f = RunFollower(run)
    assert len(f.poll().records) == 49
    log = run / "metrics.jsonl"
    data = bytearray(log.read_bytes())
    i = data.index(b'"g_loss": 0.7')
    data[i + 11 : i + 13] = b"99"  # same length, record 1, thousands of bytes back
    log.write_bytes(bytes(data))
    append(run, line(train_record(50)))
    u = f.poll()
    assert not u.reset and steps_of(u.records) == [50]


def test_a_damaged_line_is_skipped(tmp_path):
    run = make_run(tmp_path / "run")
    append(run, line(train_record(1)) + b'{"type": "train", "st\x00\xff garbage\n')
    append(run, line(train_record(2)))
    f = RunFollower(run)
    assert steps_of(f.poll().records) == [1, 2]


def test_a_rewritten_log_resets(tmp_path):
    """A resumed run writes the log again, cut back to its checkpoint (atomic replace)."""
    run = make_run(tmp_path / "run")
    append(run, b"".join(line(train_record(s)) for s in range(10, 101, 10)))
    f = RunFollower(run)
    assert steps_of(f.poll().records)[-1] == 100
    kept = b"".join(line(train_record(s)) for s in range(10, 51, 10))
    resume = line({"type": "resume", "step": 50, "checkpoint": "x", "notes": []})
    more = b"".join(line(train_record(s, g=0.5)) for s in range(60, 201, 10))
    tmp = run / ".metrics.tmp"
    tmp.write_bytes(kept + resume + more)  # longer than before, different at the old end
    os.replace(tmp, run / "metrics.jsonl")
    u = f.poll()
    assert u.reset and steps_of(u.records) == list(range(10, 201, 10))
    assert u.status == "running" and u.step == 200
    # Cut shorter than what was read: also a reset.
    (run / "metrics.jsonl").write_bytes(kept)
    u = f.poll()
    assert u.reset and steps_of(u.records) == [10, 20, 30, 40, 50] and u.step == 50
    append(run, line(train_record(60)))
    u = f.poll()
    assert not u.reset and steps_of(u.records) == [60]


def test_a_log_replaced_by_a_longer_copy_continues(tmp_path):
    """A synced folder replaces the file with each sync: same bytes, more of them."""
    run = make_run(tmp_path / "run")
    old = b"".join(line(train_record(s)) for s in range(1, 20))
    append(run, old)
    f = RunFollower(run)
    f.poll()
    tmp = run / ".sync.tmp"
    tmp.write_bytes(old + line(train_record(20)))
    os.replace(tmp, run / "metrics.jsonl")
    u = f.poll()
    assert not u.reset and steps_of(u.records) == [20]


def test_a_huge_log_is_read_in_pieces_and_each_record_once(tmp_path):
    run = make_run(tmp_path / "run", steps=100_000)
    append(run, b"".join(line(train_record(s)) for s in range(1, 100_001)))
    f = RunFollower(run, max_read=8 * 2**20)  # ~28 MB of log: four polls
    seen, polls, more = [], 0, True
    while more:
        u = f.poll()
        seen += steps_of(u.records)
        more, polls = u.more, polls + 1
    assert polls >= 3 and seen == list(range(1, 100_001))
    steps, stats = curve_points([])
    assert steps.shape == (0,) and stats.shape == (0, 6)
    assert f.poll().records == ()


def test_status_from_the_log_and_the_status_line(tmp_path):
    run = make_run(tmp_path / "run", steps=1000)
    f = RunFollower(run)
    append(run, line(train_record(100, t=1.0)) + line(train_record(300, t=2.0)))
    u = f.poll()
    assert u.status == "running" and u.steps_per_s == pytest.approx(200.0)
    text = status_text(u, "run", now=u.updated + 3)
    assert text.startswith("Following run: step 300 of 1,000") and "updated 3 s ago" in text
    assert "ETA" in text
    stalled = status_text(u, "run", now=u.updated + STALLED_AFTER + 5)
    assert "Nothing has changed for a long time" in stalled
    append(run, line({"type": "end", "step": 300, "status": "failed", "message": "NaN loss"}))
    u = f.poll()
    assert u.status == "failed" and "failed at step 300 of 1,000" in status_text(u, "run")
    assert "NaN loss" in status_text(u, "run")
    append(run, line({"type": "resume", "step": 250, "checkpoint": "c", "notes": []}))
    u = f.poll()
    assert u.status == "running" and u.step == 250


def test_records_become_curves_quality_and_warnings():
    records = [
        train_record(1),
        {**train_record(2), "g_loss": None, "g_grad": float("nan")},
        {"type": "train", "step": 3, "g_loss": 1.0},  # an older log without some columns
        {
            "type": "quality",
            "step": 2,
            "fd": 12.5,
            "kid": None,
            "precision": 0.5,
            "recall": 0.25,
            "floor": {"fd": 1.5, "kid": 0.0},
            "diversity": 0.8,
            "seconds": 1.25,
        },
        {"type": "warning", "step": 2, "kind": "d_wins", "message": "D wins.", "advice": "Try."},
        {"type": "coverage", "step": 3, "modes_captured": 5, "n_modes": 8, "hq_fraction": 0.5},
    ]
    steps, stats = curve_points(records)
    assert steps.tolist() == [1, 2, 3]
    assert np.isnan(stats[1, 0]) and np.isnan(stats[1, 4]) and stats[1, 1] == 1.3
    assert stats[2, 0] == 1.0 and np.isnan(stats[2, 1:]).all()
    (q,) = quality_events(records)
    assert (
        q.status == "ready"
        and q.step == 2
        and q.metrics
        == {
            "fd": 12.5,
            "precision": 0.5,
            "recall": 0.25,
        }
    )
    assert q.floor == {"fd": 1.5, "kid": 0.0} and q.diversity == 0.8 and q.seconds == 1.25
    (w,) = training_warnings(records)
    assert (w.kind, w.step, w.message, w.advice) == ("d_wins", 2, "D wins.", "Try.")
    assert newest_coverage(records)["modes_captured"] == 5


def test_probabilistic_losses_match_the_engine():
    from ganstudio.core.training.losses import LOSSES

    assert set(PROBABILISTIC_LOSSES) == {n for n, loss in LOSSES.items() if loss.probabilistic}


# -------------------------------------------------------------------------------------
# Pictures and models that are being copied


def png_bytes(colour, size=16) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def test_a_half_copied_or_bad_preview_is_skipped_until_it_is_whole(tmp_path):
    run = make_run(tmp_path / "run")
    previews = run / "previews"
    previews.mkdir()
    (previews / "step_0000010.png").write_bytes(png_bytes((255, 0, 0)))
    red_then_green = png_bytes((0, 255, 0))
    (previews / "step_0000020.png").write_bytes(red_then_green[: len(red_then_green) // 2])
    (previews / "step_0000015.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a picture at all")
    f = RunFollower(run)
    u = f.poll()
    assert u.preview.name == "step_0000010.png" and u.preview_step == 10
    assert tuple(u.picture[0, 0]) == (255, 0, 0)
    assert f.poll().preview is None  # nothing newer that is complete
    (previews / "step_0000020.png").write_bytes(red_then_green)
    u = f.poll()
    assert u.preview.name == "step_0000020.png" and tuple(u.picture[0, 0]) == (0, 255, 0)
    (previews / "step_0000020.png").unlink()  # vanished (a synced folder's cleanup)
    u = f.poll()
    assert u.preview.name == "step_0000010.png"  # the newest that is there


def with_step(data: bytes, step: int) -> bytes:
    """A copy of a safetensors checkpoint whose description says ``step``."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["ganstudio"])
    header["__metadata__"]["ganstudio"] = json.dumps({**meta, "step": step})
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


def test_a_cut_off_checkpoint_is_skipped_for_the_newest_whole_model(real_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    (run / "generator.safetensors").unlink()
    ckpt = run / "checkpoints" / "step_0000060.safetensors"
    assert safetensors_step(ckpt) == 60
    f = RunFollower(run)
    u = f.poll()
    assert u.model == ckpt and u.model_step == 60
    whole = with_step(ckpt.read_bytes(), 90)
    newer = run / "checkpoints" / "step_0000090.safetensors"
    newer.write_bytes(whole[: len(whole) - 1000])  # still being copied
    assert safetensors_step(newer) is None
    assert f.poll().model is None  # unchanged: still the step-60 checkpoint
    (run / "checkpoints" / "step_0000100.safetensors").write_bytes(b"\x80\x04 a pickle")
    assert f.poll().model is None
    newer.write_bytes(whole)
    u = f.poll()
    assert u.model == newer and u.model_step == 90
    from ganstudio.core.modelfile import load_generator

    assert load_generator(newer).latent_dim == 16  # the window can open it
    newer.unlink()  # gone again: the newest that is still there
    u = f.poll()
    assert u.model == ckpt


def test_the_model_file_is_preferred_at_the_same_step(real_run):
    u = RunFollower(real_run).poll()
    assert u.model.name == "generator.safetensors"


# -------------------------------------------------------------------------------------
# Not a run folder, and folders that go away


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RunFolderError, match="no such folder"):
        RunFollower(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunFolderError, match="not a folder"):
        RunFollower(tmp_path / "file.txt")
    (tmp_path / "pictures").mkdir()
    with pytest.raises(RunFolderError, match="not a run folder .*config.json"):
        RunFollower(tmp_path / "pictures")
    (tmp_path / "pictures" / "config.json").write_text('{"config": ')
    with pytest.raises(RunFolderError, match="config.json cannot be read"):
        RunFollower(tmp_path / "pictures")
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == ["config.json"]


def test_a_vanishing_folder_is_a_problem_not_an_exception(tmp_path):
    run = make_run(tmp_path / "run")
    append(run, line(train_record(1)))
    f = RunFollower(run)
    assert steps_of(f.poll().records) == [1]
    moved = tmp_path / "elsewhere"
    run.rename(moved)  # an unmounted share
    u = f.poll()
    assert u.problem and "cannot be read" in u.problem and u.records == () and not u.reset
    assert "cannot be read" in status_text(u, "run")
    moved.rename(run)
    append(run, line(train_record(2)))
    u = f.poll()
    assert u.problem == "" and steps_of(u.records) == [2] and not u.reset


def test_following_writes_nothing(tmp_path, real_run):
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    os.chmod(run / "metrics.jsonl", 0o444)  # read-only files are enough
    before = snapshot(run)
    f = RunFollower(run)
    for _ in range(3):
        f.poll()
    after = snapshot(run)
    assert after == before
