"""Fine-tuning from the window: the set-up panel's "Start from" names a model file,
checkpoint or run folder; the verdict says what it holds or why it does not fit."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from ganstudio.cli import main
from ganstudio.gui.train.setup_panel import SetupPanel


def _train(out, dataset, *more):
    args = ["train", "--dataset", dataset, "--steps", "3", "--width", "8", "--latent-dim", "4"]
    args += ["--batch-size", "8", "--device", "cpu", "-q", "--metrics-every", "0"]
    assert main([*args, *more, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    ring = _train(root / "ring", "builtin:ring8?n=256", "--depth", "1")
    digits = _train(root / "digits", "builtin:digits?n=64")
    return ring, digits


def test_start_from_round_trips_and_a_vanished_file_is_dropped(qtbot, runs, tmp_path):
    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert "init_from" not in panel.config_fields()
    panel.init_from.setText(str(runs[0]))
    assert panel.config_fields()["init_from"] == str(runs[0])
    other = SetupPanel()
    qtbot.addWidget(other)
    other.set_config_fields(panel.config_fields())
    assert other.init_from.text() == str(runs[0])
    other.set_config_fields({"init_from": str(tmp_path / "gone.safetensors")})
    assert other.init_from.text() == ""
    qtbot.mouseClick(panel.init_from_clear, Qt.MouseButton.LeftButton)
    assert "init_from" not in panel.config_fields()


def test_the_window_starts_a_run_from_an_earlier_one(qtbot, make_window, fill, settings, runs):
    ring, digits = runs
    window = make_window(settings)  # the built-in ring of 8 Gaussians
    fill(window, {"steps": 3, "init_from": str(digits / "generator.safetensors")})
    assert window.resolved is None
    assert "28x28 pictures, but the dataset holds 2-D points" in window.setup.verdict.text()
    assert not window.commands.start.isEnabled()
    fill(window, {"init_from": str(ring)})  # a run folder: its newest checkpoint
    assert window.resolved is not None, window.setup.verdict.text()
    assert "Starts from the checkpoint step_" in window.setup.verdict.text()
    assert (window.resolved["width"], window.resolved["latent_dim"]) == (8, 4)
    fill(window, {"width": 64})
    assert "width 64 does not fit" in window.setup.verdict.text()
    fill(window, {"width": 0})  # back to auto
    assert window.commands.start.isEnabled()
    (button,) = [
        b for b in window.findChildren(QToolButton) if b.defaultAction() is window.commands.start
    ]
    with qtbot.waitSignal(window.session.finished, timeout=60_000) as finished:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert finished.args[0].status == "completed", finished.args[0].message
    started = window.latest.started
    assert started.config["init_from"].startswith(str(ring / "checkpoints"))
    notes = (*started.config.get("notes", ()), *started.notes)
    assert any("started from the checkpoint" in note for note in notes)
    window.close()
