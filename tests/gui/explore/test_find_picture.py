"""The Explore tab's Find a picture box: a projection runs in its thread, shows its progress,
can be cancelled, becomes the current sample, and two of them make an interpolation."""

import numpy as np
import pytest
from _tiny import train_tiny
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("find-a-picture"),
        *("--dataset", "builtin:digits?n=64", "--model", "dcgan", "--width", 4),
        *("--latent-dim", 8, "--steps", 2, "--batch-size", 8),
    )


@pytest.fixture
def panel(qtbot, image_model):
    from ganstudio.gui.engine import open_model_task
    from ganstudio.gui.explore.panel import ExplorerPanel

    opened = open_model_task(str(image_model))(lambda done, total: None)
    panel = ExplorerPanel()
    qtbot.addWidget(panel)
    panel.set_model(opened)
    panel.show()
    qtbot.waitUntil(lambda: "current" in panel.shown, timeout=30_000)
    panel.projection.candidates = 8
    yield panel
    assert panel.projection.close_worker()
    panel.close_renderer()


def picture(path, row):
    a = np.zeros((28, 28), np.uint8)
    a[row : row + 4, 6:22] = 255
    Image.fromarray(a).save(path)
    return str(path)


def project(qtbot, box, path, steps):
    box.steps.setValue(steps)
    with qtbot.waitSignal(box.finished, timeout=60_000) as blocker:
        assert box.find_picture(path)
    return blocker.args[0]


def test_a_projection_shows_progress_and_becomes_the_current_sample(qtbot, panel, tmp_path):
    box = panel.projection
    values = []
    box.progress.valueChanged.connect(values.append)
    result = project(qtbot, box, picture(tmp_path / "bar.png", 8), 20)
    assert values[-1] == 20 and len(set(values)) > 2  # moved step by step
    assert box.progress.maximum() == 20
    assert box.target_view.pixmap() is not None and box.result_view.pixmap() is not None
    assert "pixel distance" in box.status.text()
    np.testing.assert_array_equal(panel.state.base, result.latent)
    assert panel.state.psi == 1.0
    qtbot.waitUntil(
        lambda: np.array_equal(panel.shown["current"].z[0], result.latent), timeout=10_000
    )
    assert not box.interpolate_button.isEnabled()  # one projection: nothing to interpolate

    second = project(qtbot, box, picture(tmp_path / "low.png", 18), 5)
    assert box.interpolate_button.isEnabled()
    qtbot.mouseClick(box.interpolate_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(panel.interpolate.keys, np.stack([result.latent, second.latent]))
    assert panel.tabs.currentWidget() is panel.interpolate


def test_cancel_stops_the_projection(qtbot, panel, tmp_path):
    box = panel.projection
    box.steps.setValue(10_000)
    state_before = panel.state.base.copy()
    assert box.find_picture(picture(tmp_path / "bar.png", 8))
    assert not box.find_button.isEnabled() and box.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: box.progress.value() >= 2, timeout=60_000)
    qtbot.mouseClick(box.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.is_running() and box.find_button.isEnabled(), timeout=30_000)
    assert box.status.text() == "Cancelled."
    assert box.latest is None and box.progress.value() < 10_000
    np.testing.assert_array_equal(panel.state.base, state_before)


def test_a_bad_picture_is_reported(qtbot, panel, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    with qtbot.waitSignal(
        panel.message, check_params_cb=lambda text, kind: kind == "error", timeout=30_000
    ) as blocker:
        assert panel.projection.find_picture(str(bad))
    assert str(bad) in blocker.args[0]
    qtbot.waitUntil(lambda: not panel.projection.is_running(), timeout=10_000)


def drag_event(kind, path, keep):
    """A drag-enter or drop event carrying one file; ``keep`` holds its mime data alive (the
    event does not own it)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    keep.append(mime)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    if kind == "enter":
        return QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    return QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)


def test_dropping_a_picture_on_the_tab_finds_it(qtbot, panel, tmp_path):
    path, keep = picture(tmp_path / "bar.png", 8), []
    enter = drag_event("enter", path, keep)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    model = drag_event("enter", tmp_path / "model.safetensors", keep)
    QApplication.sendEvent(panel, model)
    assert not model.isAccepted()  # left to the window, which opens models
    panel.projection.steps.setValue(3)
    with qtbot.waitSignal(panel.projection.finished, timeout=60_000):
        QApplication.sendEvent(panel, drag_event("drop", path, keep))
