"""The main window driven like a user would: Start, pause, step, resume, stop, live edits,
save and open a model, errors, closing during training, remembered settings."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from ganstudio.core.runs.job import RunJob
from ganstudio.core.runs.reader import read_metrics


def toolbar_button(window, action) -> QToolButton:
    for button in window.findChildren(QToolButton):
        if button.defaultAction() is action:
            return button
    raise AssertionError(f"no toolbar button for {action.text()}")


def click(qtbot, window, action):
    qtbot.mouseClick(toolbar_button(window, action), Qt.MouseButton.LeftButton)


def test_start_on_the_default_dataset_then_pause_step_resume_stop(qtbot, window):
    assert window.setup.dataset.dataset_spec() == "builtin:ring8"
    assert window.commands.start.isEnabled() and not window.commands.stop.isEnabled()
    reports = []
    window.session.report.connect(reports.append)
    with qtbot.waitSignal(window.session.report, timeout=30_000):
        click(qtbot, window, window.commands.start)
    assert window.session.state == "running"
    assert not window.commands.start.isEnabled() and window.commands.pause.isEnabled()
    assert not window.setup.loss.isEnabled() and window.setup.lr_g.isEnabled()
    qtbot.waitUntil(lambda: window.samples.showing_points, timeout=30_000)
    assert window.status.step_label.text().startswith("step ")
    assert "img/s" in window.status.speed_label.text() and "ETA" in window.status.eta_label.text()

    click(qtbot, window, window.commands.pause)
    assert window.session.state == "paused" and window.commands.pause.text() == "Resume"
    qtbot.wait(300)  # the trainer reports once when it blocks, then stays put
    paused_at = reports[-1].step
    qtbot.wait(300)
    assert reports[-1].step == paused_at
    # The status bar shows the step the run stands at, also when that step's report came
    # within its quarter-second of the one before.
    assert window.status.step_label.text().startswith(f"step {paused_at:,} /")

    with qtbot.waitSignal(
        window.session.report, timeout=10_000, check_params_cb=lambda r: r.step == paused_at + 1
    ):
        click(qtbot, window, window.commands.step)
    assert window.session.state == "paused"

    click(qtbot, window, window.commands.pause)  # Resume
    assert window.session.state == "running"
    with qtbot.waitSignal(window.session.report, timeout=10_000):
        pass
    with qtbot.waitSignal(window.session.finished, timeout=30_000) as finished:
        click(qtbot, window, window.commands.stop)
    result = finished.args[0]
    assert result.status in ("stopped", "completed") and result.model_path
    assert window.status.step_label.text().startswith(f"step {result.step:,} /")
    assert window.session.state == "idle" and window.commands.start.isEnabled()
    steps = np.concatenate([r.steps for r in reports])
    assert (np.diff(steps) == 1).all()  # every step reported once, in order

    run = window.latest.started.run_folder
    records = read_metrics(Path(run) / "metrics.jsonl")
    assert records[-1]["type"] == "end"
    assert list((Path(run) / "checkpoints").glob("step_*.safetensors"))


def test_live_learning_rate_change_applies_between_steps(qtbot, window):
    with qtbot.waitSignal(window.session.report, timeout=30_000):
        window.commands.start.trigger()
    window.setup.lr_g.setText("0.0001")
    window.setup.lr_g.editingFinished.emit()
    with qtbot.waitSignal(
        window.session.report, timeout=15_000, check_params_cb=lambda r: r.lr_g == 1e-4
    ):
        pass
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == "idle", timeout=30_000)
    run = window.latest.started.run_folder
    records = [r for r in read_metrics(Path(run) / "metrics.jsonl") if r["type"] == "train"]
    assert records[0]["lr_g"] != 1e-4 and records[-1]["lr_g"] == 1e-4


def test_save_a_model_and_open_it_again(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.commands.start.trigger()
    assert window.commands.save_model.isEnabled()
    path = tmp_path / "mine.safetensors"
    window.files.save_model(str(path))
    assert path.is_file()
    window.files.open_model(str(path))
    qtbot.waitUntil(lambda: window.latest.opened_model is not None, timeout=30_000)
    assert window.latest.opened_model.meta["step"] == window.latest.result.step
    assert "mine.safetensors" in window.samples.title.text()
    assert window.samples.showing_points
    # The samples on screen export as a picture with its provenance.
    out = tmp_path / "grid.png"
    window.files.export_grid(str(out))
    with Image.open(out) as im:
        assert im.size[0] > 100 and im.text["ganstudio.model_hash"]
    recent = json.loads(window.settings.value("recent"))
    assert recent[0] == {"kind": "model", "path": str(path)}


def test_a_bad_model_file_is_a_message_and_the_window_keeps_working(qtbot, window, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not really")
    window.files.open_model(str(bad))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "bad.safetensors" in window.banner.label.text()
    assert window.commands.start.isEnabled()


def test_training_that_diverges_shows_the_message_and_stops_cleanly(qtbot, window, monkeypatch):
    from ganstudio.core.training.trainer import Trainer

    real_init = Trainer.__init__

    def poisoned(self, *args, **kw):  # the discriminator's outputs become NaN
        real_init(self, *args, **kw)
        with torch.no_grad():
            next(self.D.parameters()).fill_(float("nan"))

    # (A dataset holding NaN is refused before training: core.data.Dataset checks it.)
    monkeypatch.setattr(Trainer, "__init__", poisoned)
    with qtbot.waitSignal(window.session.finished, timeout=30_000) as finished:
        window.commands.start.trigger()
    assert finished.args[0].status == "failed"
    assert window.banner.isVisible() and "NaN" in window.banner.label.text()
    assert window.session.state == "idle"


def test_resuming_something_that_is_not_a_run_is_a_message(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.finished, timeout=30_000) as finished:
        window.resume_run(str(tmp_path))
    assert finished.args[0].status == "failed"
    assert "no checkpoint" in window.banner.label.text()
    assert window.commands.start.isEnabled()


def test_resume_continues_the_run_and_its_curves(qtbot, window):
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.commands.start.trigger()
    first = window.latest.result
    assert first.status == "completed"
    window.curves.clear()
    with qtbot.waitSignal(window.session.started, timeout=30_000) as started:
        window.session.start(RunJob(runs_dir=window.runs_dir(), resume=first.run_folder, steps=500))
    info = started.args[0]
    assert info.step == 400 and len(info.history_steps) == 400
    qtbot.waitUntil(lambda: window.session.state == "idle", timeout=60_000)
    assert window.latest.result.step == 500


def test_invalid_settings_are_explained_inline(qtbot, window):
    window.setup.arch.setCurrentIndex(window.setup.arch.findData("dcgan"))
    window.validate_now()
    assert "DCGAN needs an image dataset" in window.setup.verdict.text()
    assert not window.commands.start.isEnabled()
    window.setup.arch.setCurrentIndex(0)
    window.setup.lr_d.setText("fast")
    window.validate_now()
    assert "Learning rate D" in window.setup.verdict.text()
    assert not window.commands.start.isEnabled()
    window.setup.lr_d.setText("")
    window.validate_now()
    assert window.commands.start.isEnabled()


def test_closing_during_training_saves_and_stops_the_thread(qtbot, settings, make_window):
    window = make_window(settings, {"steps": 100000, "width": 32})
    asked = []
    window.ask_save_on_close = lambda: asked.append(1) or "save"
    with qtbot.waitSignal(window.session.report, timeout=30_000):
        window.commands.start.trigger()
    run = window.session._worker.job.runs_dir
    assert window.close()
    assert asked and window.session.state in ("stopping", "idle")
    assert window.session.wait(0)
    checkpoints = list(Path(run).glob("*/checkpoints/step_*.safetensors"))
    assert checkpoints, "closing with Save wrote a checkpoint"


def test_cancel_keeps_the_window_open(qtbot, window):
    window.ask_save_on_close = lambda: "cancel"
    with qtbot.waitSignal(window.session.report, timeout=30_000):
        window.commands.start.trigger()
    assert not window.close()
    assert window.session.state == "running"
    window.ask_save_on_close = lambda: "discard"


def test_settings_and_dataset_are_remembered(qtbot, settings, tmp_path, make_window, fill):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    window = make_window(settings)
    window.files.drop_path(str(folder))
    qtbot.waitUntil(
        lambda: window.data is not None and window.data.spec.startswith(str(folder)), timeout=60_000
    )
    assert "12" in window.setup.dataset.data_summary.text()
    fill(window, {"lr_g": 0.0003, "steps": 1234})
    window.close()

    again = make_window(settings)
    assert again.setup.dataset.dataset_spec().startswith(str(folder))
    assert again.setup.lr_g.text() == "0.0003" and again.setup.steps.value() == 1234
    again.close()


def test_window_imports_no_torch_before_it_is_shown():
    import subprocess
    import sys

    # The command line's parser (what plain `ganstudio` runs before the window) ...
    code = (
        "import sys\n"
        "from ganstudio.cli import build_parser\n"
        "build_parser().parse_args([])\n"
        "assert 'torch' not in sys.modules, 'the parser imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    # ... and the window itself.
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from ganstudio.gui.window.main_window import MainWindow\n"
        "w = MainWindow()\n"
        "assert 'torch' not in sys.modules, 'torch imported before the window shows'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("path", ["model.safetensors"])
def test_dropping_a_model_file_opens_it(qtbot, window, tmp_path, path):
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.commands.start.trigger()
    model = window.latest.result.model_path
    window.files.drop_path(model)
    qtbot.waitUntil(lambda: window.latest.opened_model is not None, timeout=30_000)
    assert window.latest.opened_model.path == model


def test_automatic_settings_stay_automatic_after_a_run(qtbot, window):
    """A run fills in the values the engine chose, but the panel keeps them on auto, so the
    next dataset gets its own defaults (not the MLP width of the last run)."""
    window.setup.width.setValue(0)
    window.validate_now()
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.commands.start.trigger()
    assert window.setup.width.value() == 0
    assert window.setup.width.specialValueText() == "auto: 256"


def test_a_collapsing_run_is_explained_in_the_window(qtbot, window, fill):
    fill(window, {"lr_g": 1e-6, "lr_d": 1e-3, "steps": 500})
    with qtbot.waitSignal(window.session.warning, timeout=60_000) as got:
        window.commands.start.trigger()
    assert got.args[0].kind == "d_wins"
    assert window.banner.isVisible() and "winning outright" in window.banner.label.text()
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == "idle", timeout=30_000)


def test_a_loss_saved_by_the_old_loss_list_becomes_auto(qtbot, settings, make_window):
    import json

    # Saved before the loss list had "auto": its first entry, non-saturating, was saved
    # whether or not the user chose it.
    settings.setValue("config", json.dumps({"loss": "nonsaturating", "steps": 777}))
    window = make_window(settings)
    assert window.setup.loss.currentData() is None  # auto
    assert window.setup.steps.value() == 777
    window.setup.loss.setCurrentIndex(window.setup.loss.findData("nonsaturating"))
    window.close()  # now saved by this version: a chosen loss is kept
    again = make_window(settings)
    assert again.setup.loss.currentData() == "nonsaturating"
    again.close()
