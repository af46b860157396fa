"""File > Follow run folder...: the window follows a run folder that ANOTHER PROCESS writes
(a real `ganstudio train`, or one appending real records and rewriting the log like a
resumed run), shows the new points as they arrive, explores the newest model, and writes
nothing into the folder."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from ganstudio.core.runs.reader import read_metrics


def listing(folder: Path) -> dict:
    out = {}
    for here, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = (Path(here) / name).stat()
            out[os.path.relpath(Path(here) / name, folder)] = (st.st_size, st.st_mtime_ns)
    return out


def train_points(folder: Path) -> int:
    return sum(r["type"] == "train" for r in read_metrics(folder / "metrics.jsonl"))


@pytest.fixture
def trainer_process(tmp_path):
    """`python -m ganstudio train` in another process, writing tmp_path/cluster-run."""
    folder = tmp_path / "cluster-run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "ganstudio", "train", "--dataset", "builtin:ring8",
            "--steps", "100000", "--out", str(folder), "--metrics-every", "0",
            "--device", "cpu", "--width", "32", "--batch-size", "64",
            "--preview-every", "25", "-q",
        ],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield proc, folder
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)


def test_the_window_follows_a_run_another_process_trains(
    qtbot, make_window, settings, trainer_process, tmp_path
):
    proc, folder = trainer_process
    window = make_window(settings)
    qtbot.waitUntil(lambda: (folder / "config.json").exists(), timeout=60_000)
    window.follow.follow_run(str(folder))
    assert window.follow.following == folder and window.follow.bar.isVisible()
    assert settings.value("follow_folder") == str(folder)
    assert json.loads(settings.value("recent"))[0] == {"kind": "follow", "path": str(folder)}
    assert window.recent.menu.actions()[0].text() == f"Follow: {folder}"

    # New points arrive while the other process is still training.
    qtbot.waitUntil(lambda: window.curves.point_count() > 0, timeout=30_000)
    first = window.curves.point_count()
    qtbot.waitUntil(lambda: window.curves.point_count() > first + 2, timeout=30_000)
    assert proc.poll() is None  # still running: these points came while it wrote them
    assert window.follow.bar.label.text().startswith("Following cluster-run: step ")
    assert "of 100,000" in window.follow.bar.label.text()
    qtbot.waitUntil(lambda: "the newest preview of cluster-run" in window.samples.title.text())
    assert "modes captured" in window.samples.caption.text()
    assert window.status.step_label.text().startswith("step ")
    out = tmp_path / "exported.png"  # beside the run folder, not in it
    window.files.export_grid(str(out))
    with Image.open(out) as im:
        assert im.text["ganstudio.run"] == str(folder)
        assert im.text["ganstudio.preview"].startswith("previews/step_")

    # Ctrl+C stops the job: it saves a checkpoint and the model, and logs the end.
    before_stop = window.curves.point_count()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0, proc.stdout.read().decode()
    qtbot.waitUntil(lambda: "the run stopped at step" in window.follow.bar.label.text())
    assert window.curves.point_count() == train_points(folder) >= before_stop
    qtbot.waitUntil(lambda: window.follow.bar.explore.isEnabled(), timeout=10_000)
    model, step = window.follow.follow_model
    assert model == folder / "generator.safetensors" and step > 0
    assert window.follow.bar.model_label.text().startswith("generator.safetensors (step ")

    # Explore newest model: the model opens in the Explore tab; nothing is written there.
    before = listing(folder)
    window.follow.bar.explore.click()
    qtbot.waitUntil(lambda: window.latest.opened_model is not None, timeout=30_000)
    assert (
        window.latest.opened_model.path == str(model)
        and window.latest.opened_model.meta["step"] == step
    )
    assert window.tabs.currentWidget() is window.explorer
    # The Train tab goes back to the followed run's preview at the next poll.
    qtbot.waitUntil(lambda: "the newest preview" in window.samples.title.text())
    qtbot.wait(1500)  # more polls
    assert listing(folder) == before
    window.commands.stop_follow.trigger()
    assert window.follow.following is None and not window.follow.bar.isVisible()
    window.close()


APPENDER = textwrap.dedent(
    """
    import json, os, sys, time
    folder = sys.argv[1]
    log = os.path.join(folder, "metrics.jsonl")
    def rec(step, g):
        return {"type": "train", "step": step, "time": step / 100, "g_loss": g,
                "d_loss": 1.3, "d_real": 0.6, "d_fake": 0.4, "g_grad": 0.1, "d_grad": 0.2,
                "images_per_s": 5000.0, "lr_g": 2e-4, "lr_d": 2e-4, "d_steps": 1}
    with open(log, "a") as fh:
        for step in range(10, 310, 10):  # 30 points, a part of a line at a time
            text = json.dumps(rec(step, 0.7)) + "\\n"
            fh.write(text[:25]); fh.flush(); time.sleep(0.02)
            fh.write(text[25:]); fh.flush(); time.sleep(0.02)
        fh.write(json.dumps({"type": "warning", "step": 300, "kind": "d_wins",
                 "message": "The discriminator wins.", "advice": "Lower its rate."}) + "\\n")
        fh.write(json.dumps({"type": "quality", "step": 300, "fd": 12.0, "kid": 0.5,
                 "precision": 0.4, "recall": 0.3, "floor": {"fd": 1.0}, "diversity": 0.9,
                 "seconds": 1.0}) + "\\n")
    open(os.path.join(folder, "appended"), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.05)
    # A resumed run: the log rewritten (atomically), cut back to step 100, then more.
    kept = [rec(s, 0.7) for s in range(10, 110, 10)]
    kept.append({"type": "resume", "step": 100, "checkpoint": "c", "notes": []})
    kept += [rec(s, 0.5) for s in range(110, 160, 10)]
    tmp = os.path.join(folder, ".metrics.tmp")
    with open(tmp, "w") as fh:
        fh.write("".join(json.dumps(r) + "\\n" for r in kept))
    os.replace(tmp, log)
    with open(log, "a") as fh:
        fh.write(json.dumps({"type": "end", "step": 150, "status": "completed",
                             "message": "completed 150 steps"}) + "\\n")
    """
)


def test_a_rewritten_log_restarts_the_curves_and_local_training_stops_following(
    qtbot, make_window, settings, tmp_path
):
    folder = tmp_path / "synced-run"
    folder.mkdir()
    doc = {
        "config": {"dataset": "builtin:ring8", "steps": 300, "arch": "mlp", "loss": "wgan-gp"},
        "dataset": {"name": "builtin:ring8", "kind": "points", "modes": []},
    }
    (folder / "config.json").write_text(json.dumps(doc))
    window = make_window(settings, {"steps": 50, "width": 32, "batch_size": 64})
    window.follow.follow_run(str(folder))
    proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(folder)])
    try:
        qtbot.waitUntil(lambda: window.curves.point_count() > 0, timeout=20_000)
        qtbot.waitUntil(lambda: (folder / "appended").exists(), timeout=20_000)
        qtbot.waitUntil(lambda: window.curves.point_count() == 30, timeout=10_000)
        assert "Critic" in window.curves._d_plot.getAxis("left").labelText
        assert window.diagnose.warnings.warnings_count() == 1
        assert "The discriminator wins." in window.banner.label.text()
        assert window.diagnose.quality.history["fd"] == ([300], [12.0])
        assert "step 300 of 300" in window.follow.bar.label.text()
        assert not window.follow.bar.explore.isEnabled()  # no model file yet
        (folder / "go").touch()
        qtbot.waitUntil(lambda: "finished at step 150" in window.follow.bar.label.text())
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert window.curves.point_count() == 15  # 10 kept, then 5 new: the old 30 are gone
    assert window.diagnose.warnings.warnings_count() == 0  # the rewritten log has none
    assert "G loss 0.5" in window.curves.readout_text()

    # Starting training in the window stops following.
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.commands.start.trigger()
    assert window.follow.following is None and not window.follow.bar.isVisible()
    assert not window.commands.follow.isEnabled()
    qtbot.waitUntil(lambda: window.session.state == "idle", timeout=60_000)
    assert window.commands.follow.isEnabled()
    window.close()


def test_a_folder_that_is_no_run_is_a_message(qtbot, make_window, settings, tmp_path):
    window = make_window(settings)
    (tmp_path / "pictures").mkdir()
    window.follow.follow_run(str(tmp_path / "pictures"))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "not a run folder" in window.banner.label.text()
    assert window.follow.following is None and not window.follow.bar.isVisible()
    assert list((tmp_path / "pictures").iterdir()) == []
    assert window.commands.start.isEnabled()
    window.close()
