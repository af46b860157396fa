"""Paths given to the window (`ganstudio FILE_OR_FOLDER`, a drop): each kind opens where it
belongs; and File > Export dataset... writes a dataset in the background, cancellably."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from ganstudio.cli import main


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A tiny DCGAN run on the built-in digits (a few steps): its folder."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run") / "digits"
    argv = ["train", "--dataset", "builtin:digits?n=256", "--steps", "3", "--width", "8"]
    argv += ["--batch-size", "16", "--out", str(out), "-q", "--metrics-every", "0"]
    assert main(argv) == 0
    return out


@pytest.fixture
def model(run_folder):
    return run_folder / "generator.safetensors"


def open_model(qtbot, window, model):
    window.open_path(str(model))
    qtbot.waitUntil(lambda: window.opened_model is not None, timeout=30_000)
    return window.opened_model


def test_a_model_file_opens_in_the_explore_tab(qtbot, window, model):
    opened = open_model(qtbot, window, model)
    assert opened.path == str(model)
    assert window.tabs.currentWidget() is window.explorer
    assert window.commands.export_dataset.isEnabled()


def test_a_run_folder_is_shown_as_a_run(qtbot, window, run_folder):
    window.open_path(str(run_folder))
    assert window.follow.following == run_folder
    assert window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: window.follow.follow_model is not None, timeout=30_000)
    assert window.follow.bar.explore.isEnabled()  # its model, one click away
    qtbot.waitUntil(lambda: window.samples.picture_available(), timeout=30_000)
    window.follow.stop_following()


def test_an_export_opens_its_model_and_the_view_it_was_made_from(qtbot, window, model, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    beside = folder / "mine.safetensors"
    shutil.copy(model, beside)
    grid = folder / "grid.png"
    argv = ["export", "grid", str(beside), "--grid", "2x3", "--seed", "5", "-o", str(grid)]
    assert main(argv) == 0
    window.open_path(str(grid))
    qtbot.waitUntil(lambda: window.opened_model is not None, timeout=30_000)
    assert window.opened_model.path == str(beside)
    browse = window.explorer.browse
    qtbot.waitUntil(lambda: browse.start_seed.value() == 5, timeout=10_000)
    assert (browse.rows.value(), browse.cols.value()) == (2, 3)
    assert window.tabs.currentWidget() is window.explorer
    assert "Restored the view of grid.png" in window.banner.label.text()


def test_an_export_whose_model_is_nowhere_says_which_model_it_needs(qtbot, window, model, tmp_path):
    from ganstudio.core.modelfile import read_metadata

    grid = tmp_path / "alone" / "grid.png"
    grid.parent.mkdir()
    assert main(["export", "grid", str(model), "--grid", "1x2", "-o", str(grid)]) == 0
    window.open_path(str(grid))
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30_000)
    text = window.banner.label.text()
    assert read_metadata(model)["content_hash"] in text and "File > Open model" in text
    assert window.opened_model is None


def test_a_dataset_folder_becomes_the_dataset(qtbot, window, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    window.tabs.setCurrentWidget(window.explorer)
    window.open_path(str(folder))
    assert window.tabs.currentIndex() == 0  # the Train tab, with the set-up panel
    qtbot.waitUntil(
        lambda: window.data is not None and window.data.spec.startswith(str(folder)),
        timeout=60_000,
    )


def test_a_built_in_dataset_opens_by_its_name(qtbot, window):
    window.tabs.setCurrentWidget(window.explorer)
    window.open_path("builtin:moons")
    assert window.tabs.currentIndex() == 0
    assert window.setup.dataset.dataset_spec() == "builtin:moons"
    qtbot.waitUntil(
        lambda: window.data is not None and window.data.spec == "builtin:moons", timeout=60_000
    )
    window.open_path("builtin:mnist")
    text = window.banner.label.text()
    assert "Cannot open builtin:mnist: there is no such built-in dataset" in text
    assert "builtin:ring8" in text and "builtin:digits" in text
    window.open_path("builtin:digits?n=600")
    assert "by its name alone (builtin:digits)" in window.banner.label.text()
    assert window.setup.dataset.dataset_spec() == "builtin:moons"  # neither changed it


def test_what_the_window_cannot_open_is_said_in_the_banner(qtbot, window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    window.open_path(str(notes), ["more.png"])
    assert window.banner.isVisible()
    assert "not something GAN Studio opens" in window.banner.label.text()
    plain = tmp_path / "photo.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(plain)
    window.files.drop_path(str(plain))
    assert "without GAN Studio provenance" in window.banner.label.text()


def test_more_than_one_path_opens_the_first(qtbot, window, model, tmp_path):
    window.open_path(str(model), [str(tmp_path / "b.png")])
    assert "opens one file at a time" in window.banner.label.text()
    qtbot.waitUntil(lambda: window.opened_model is not None, timeout=30_000)


def test_export_dataset_from_the_window(qtbot, window, model, tmp_path):
    from ganstudio.gui.window.dataset_export import DatasetRequest

    exporter = window.dataset_export
    exporter.export_dataset()  # no model yet: says what to do
    assert "Open a model first" in window.banner.label.text()
    open_model(qtbot, window, model)
    out = tmp_path / "synthetic"
    asked = []
    exporter.ask = lambda classes, folder, psi: (
        asked.append((classes, psi)) or DatasetRequest(str(out), 6, None, 0.8, 2)
    )
    with qtbot.waitSignal(exporter.exported, timeout=30_000) as done:
        window.commands.export_dataset.trigger()
    assert asked == [((), 1.0)]
    assert done.args[0].written == 6
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["seed"] for p in manifest["pictures"]] == list(range(2, 8))
    assert "Wrote 6 pictures" in window.status.currentMessage()
    # The folder is not empty now: written into only when the user agrees.
    exporter.confirm_overwrite = lambda folder: False
    exporter.export_dataset(DatasetRequest(str(out), 3, None, 1.0, 0))
    assert exporter.task is None and len(list(out.glob("*.png"))) == 6
    exporter.confirm_overwrite = lambda folder: True
    with qtbot.waitSignal(exporter.exported, timeout=30_000):
        exporter.export_dataset(DatasetRequest(str(out), 3, None, 1.0, 0))
    assert len(list(out.glob("*.png"))) == 3


def test_a_cancelled_dataset_export_leaves_a_consistent_folder(qtbot, window, model, tmp_path):
    from ganstudio.gui.window.dataset_export import DatasetRequest

    open_model(qtbot, window, model)
    out = tmp_path / "cancelled"
    exporter = window.dataset_export
    exporter.export_dataset(DatasetRequest(str(out), 600, None, 1.0, 0))
    assert exporter.progress is not None and exporter.progress.isVisible()
    task = exporter.task
    (cancel,) = [b for b in exporter.progress.findChildren(QPushButton) if b.text() == "Cancel"]
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert exporter.progress is None and exporter.task is None
    qtbot.waitUntil(lambda: not task.is_running(), timeout=30_000)  # it stops by itself
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["requested"] == 600
    files = sorted(p.name for p in out.glob("*.png"))
    assert [p["file"] for p in manifest["pictures"]] == files and len(files) < 600
    assert "cancelled" in window.status.currentMessage()


def test_the_dataset_dialog_is_gone_once_answered(qtbot, window):
    from PySide6.QtCore import QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from ganstudio.gui.window.dataset_export import DatasetDialog

    def answer() -> None:
        for dialog in window.findChildren(DatasetDialog):
            if dialog.isVisible():
                dialog.reject()

    for _ in range(2):
        QTimer.singleShot(200, answer)
        assert window.dataset_export.ask((), "somewhere", 1.0) is None
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert window.findChildren(DatasetDialog) == []  # none left behind, hidden, per opening
