"""The explorer's class picker with a class-conditional model: picking a class changes the
picture, a blend between classes at a fixed latent, a grid with one row per class that
exports with its classes; hidden for an unconditional model. And the set-up switch."""

import numpy as np
import pytest

from ganstudio.cli import main


@pytest.fixture(scope="module")
def conditional_model(tmp_path_factory):
    """A tiny class-conditional DCGAN trained for a few steps on the built-in digits."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model") / "run"
    argv = ["train", "--dataset", "builtin:digits?n=256", "--steps", "3", "--width", "8"]
    argv += ["--conditional", "--batch-size", "16", "--out", str(out), "-q"]
    assert main([*argv, "--metrics-every", "0", "--device", "cpu"]) == 0
    return out / "generator.safetensors"


@pytest.fixture
def explorer(qtbot, window, conditional_model, monkeypatch):
    window.open_model(str(conditional_model))
    qtbot.waitUntil(lambda: window.opened_model is not None, timeout=30_000)
    panel = window.explorer
    qtbot.waitUntil(lambda: "current" in panel.shown and "grid" in panel.shown, timeout=30_000)
    # Note the id of every request, to wait for the newest of a purpose (never dropped).
    panel.requested = {}
    request = panel.renderer.request

    def noted(purpose, z, **kw):
        panel.requested[purpose] = request(purpose, z, **kw)
        return panel.requested[purpose]

    monkeypatch.setattr(panel.renderer, "request", noted)
    return panel


def _drawn(qtbot, panel, purpose):
    """The result of the newest request of ``purpose``, once it is on screen."""
    newest = panel.requested[purpose]
    qtbot.waitUntil(lambda: panel.shown[purpose].id >= newest, timeout=10_000)
    return panel.shown[purpose]


def test_the_class_picker_changes_the_picture(qtbot, explorer):
    picker = explorer.class_picker
    assert picker.isVisible() and picker.names == tuple(str(d) for d in range(10))
    explorer.render_current()
    first = _drawn(qtbot, explorer, "current")
    picker.set_class(7)
    seven = _drawn(qtbot, explorer, "current")
    assert seven.id > first.id
    np.testing.assert_array_equal(seven.z, first.z)  # same latent, another class
    assert not np.array_equal(seven.images, first.images)

    # Halfway between 7 and 1: neither picture.
    picker.blend_to.setCurrentIndex(1)
    picker.blend.setValue(50)
    half = _drawn(qtbot, explorer, "current")
    assert picker.weights().tolist() == pytest.approx([0, 0.5, 0, 0, 0, 0, 0, 0.5, 0, 0])
    assert not np.array_equal(half.images, seven.images)
    picker.blend.setValue(100)
    one = _drawn(qtbot, explorer, "current")
    assert not np.array_equal(one.images, half.images)
    picker.blend.setValue(0)
    picker.set_class(1)
    plain_one = _drawn(qtbot, explorer, "current")
    np.testing.assert_array_equal(one.images, plain_one.images)


def test_a_grid_row_per_class_exports_its_classes(qtbot, explorer, conditional_model, tmp_path):
    from PIL import Image

    from ganstudio.core.explore.exports import read_provenance

    explorer.browse.rows.setValue(3)
    explorer.browse.cols.setValue(2)
    explorer.class_picker.rows.setChecked(True)
    grid = _drawn(qtbot, explorer, "grid")
    assert grid.images.shape[0] == 6
    assert explorer.source.drawn_classes["grid"] == [0, 0, 1, 1, 2, 2]
    path = tmp_path / "grid.png"
    explorer.export_grid(str(path))
    assert read_provenance(path)["classes"] == [0, 0, 1, 1, 2, 2]
    assert read_provenance(path)["class_names"] == ["0", "0", "1", "1", "2", "2"]
    # The command line renders the export exactly as the window drew it.
    again = tmp_path / "again.png"
    argv = ["export", "reproduce", str(path), "--model", str(conditional_model), "-o", str(again)]
    assert main(argv) == 0
    with Image.open(path) as a, Image.open(again) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_the_setup_switch_asks_for_conditional_training(qtbot, window):
    setup = window.setup
    assert "conditional" not in setup.config_fields()
    setup.conditional.setChecked(True)
    assert setup.config_fields()["conditional"] is True
    setup.set_config_fields({"conditional": False})
    assert not setup.conditional.isChecked()
