"""The explorer driven like a user would: open a model, drag sliders, browse, interpolate,
export, reopen an export; and the window's exports equal the command line's."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from ganstudio.cli import main


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """A tiny DCGAN trained for a few steps on the built-in digits."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model") / "run"
    argv = ["train", "--dataset", "builtin:digits?n=256", "--steps", "3", "--width", "8"]
    argv += ["--batch-size", "16", "--out", str(out), "-q", "--metrics-every", "0"]
    assert main(argv) == 0
    return out / "generator.safetensors"


@pytest.fixture
def explorer(qtbot, window, image_model):
    window.open_model(str(image_model))
    qtbot.waitUntil(lambda: window.opened_model is not None, timeout=30_000)
    panel = window.explorer
    qtbot.waitUntil(lambda: "current" in panel.shown and "grid" in panel.shown, timeout=30_000)
    assert window.tabs.currentWidget() is panel
    return panel


def picture_bytes(view) -> bytes:
    image = view.pixmap().toImage()
    return bytes(image.constBits())


def test_dragging_a_slider_draws_a_new_picture(qtbot, explorer):
    before = picture_bytes(explorer.view)
    shown = explorer.shown["current"].id
    slider = explorer.dim_rows[0].slider
    slider.resize(300, 20)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(150, 10))
    qtbot.mouseMove(slider, QPoint(290, 10))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(290, 10))
    assert explorer.dim_rows[0].value() != 0
    qtbot.waitUntil(lambda: explorer.shown["current"].id > shown, timeout=10_000)
    assert picture_bytes(explorer.view) != before
    np.testing.assert_array_equal(explorer.shown["current"].z[0], explorer.state.current())
    explorer.reset_sliders()
    assert explorer.state.offsets.any() == 0


def test_each_picture_drawn_is_announced(qtbot, explorer):
    with qtbot.waitSignal(
        explorer.picture_shown, check_params_cb=lambda r: r.purpose == "current", timeout=10_000
    ) as blocker:
        explorer.seed.setValue(3)
    result = blocker.args[0]
    assert explorer.shown["current"] is result
    np.testing.assert_array_equal(result.z[0], explorer.state.current())
    qtbot.waitUntil(lambda: not explorer.renderer.has_pending(), timeout=10_000)


def test_the_renderer_says_whether_requests_wait():
    from ganstudio.gui.explore.render_thread import Renderer

    renderer = Renderer()  # no generator yet: requests wait, no thread runs
    assert not renderer.has_pending()
    renderer.request("current", np.zeros((1, 4), np.float32))
    renderer.request("current", np.ones((1, 4), np.float32))  # replaces the waiting one
    assert renderer.has_pending()
    assert renderer.close()


def test_seed_buttons_and_truncation(qtbot, explorer):
    from ganstudio.core.explore.latent import seed_vector

    explorer.seed.setValue(7)
    np.testing.assert_array_equal(explorer.state.base, seed_vector(7, explorer.state.dim))
    explorer.psi.setValue(50)
    qtbot.waitUntil(
        lambda: np.allclose(
            explorer.shown["current"].z[0], seed_vector(7, explorer.state.dim) * 0.5
        ),
        timeout=10_000,
    )


def test_principal_direction_sliders_become_available(qtbot, explorer):
    qtbot.waitUntil(lambda: explorer.pca_rows[0].isEnabled(), timeout=30_000)
    z0 = explorer.state.current().copy()
    explorer.pca_rows[0].slider.setValue(200)
    assert not np.allclose(explorer.state.current(), z0)


def test_grid_click_selects_and_double_click_makes_current(qtbot, explorer):
    view = explorer.browse.view
    view.resize(600, 400)
    qtbot.waitUntil(lambda: explorer.grid_images is not None, timeout=10_000)
    cells = []
    view.selected.connect(cells.append)
    # Find the centre of cell 3 by scanning the widget for it.
    target = next(
        QPoint(x, y)
        for y in range(0, view.height(), 4)
        for x in range(0, view.width(), 4)
        if view.cell_at(x, y) == 3
    )
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=target)
    assert cells == [3] and view.selection == 3
    explorer.interpolate.add_selected.emit()  # a clicked cell becomes a keyframe
    assert explorer.interpolate.key_seeds == [explorer.browse.seeds[3]]
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=target)
    assert explorer.seed.value() == explorer.browse.seeds[3]


def test_grid_export_size_and_provenance_then_reopen(qtbot, explorer, tmp_path):
    from ganstudio.core.explore.exports import read_provenance

    b = explorer.browse
    b.rows.setValue(3)
    b.cols.setValue(5)
    b.padding.setValue(4)
    b.upscale.setValue(2)
    b.start_seed.setValue(40)
    qtbot.waitUntil(
        lambda: explorer.grid_images is not None and len(explorer.grid_images) == 15, timeout=10_000
    )
    path = tmp_path / "grid.png"
    explorer.export_grid(str(path))
    size = explorer.grid_images.shape[-1] * 2
    with Image.open(path) as im:
        assert im.size == (5 * size + 6 * 4, 3 * size + 4 * 4)
    prov = read_provenance(path)
    assert prov["seeds"] == list(range(40, 55)) and prov["rows"] == 3 and prov["cols"] == 5
    # Change the view, then reopen the export: the same seeds and settings come back.
    b.start_seed.setValue(0)
    b.rows.setValue(2)
    explorer.open_export(str(path))
    assert (b.start_seed.value(), b.rows.value(), b.cols.value()) == (40, 3, 5)


def test_animation_export_frame_count_and_reopen(qtbot, explorer, tmp_path):
    from ganstudio.core.explore.exports import read_provenance

    it = explorer.interpolate
    for seed in (1, 2, 3):
        explorer.seed.setValue(seed)
        it.add_seed.emit()
    it.steps.setValue(5)
    qtbot.waitUntil(
        lambda: explorer.path_images is not None and len(explorer.path_images) == 11, timeout=10_000
    )
    path = tmp_path / "walk.gif"
    explorer.export_animation(str(path))
    with Image.open(path) as im:
        assert im.n_frames == 11
    prov = read_provenance(path)
    assert prov["keyframes"] == {"seeds": [1, 2, 3]} and prov["steps"] == 5
    keys = it.keys.copy()
    it.clear()
    explorer.open_export(str(path))
    np.testing.assert_array_equal(it.keys, keys)
    it.play_button.setChecked(True)
    qtbot.wait(200)
    it.play_button.setChecked(False)


def test_vectors_save_and_load(qtbot, explorer, tmp_path):
    explorer.seed.setValue(11)
    explorer.dim_rows[1].slider.setValue(150)
    saved = explorer.state.edited().copy()
    explorer.save_vector(str(tmp_path / "z.npy"))
    explorer.seed.setValue(12)
    explorer.load_vector(str(tmp_path / "z.npy"))
    np.testing.assert_array_equal(explorer.state.edited(), saved)


def test_the_window_and_the_command_line_export_the_same_grid(
    qtbot, explorer, image_model, tmp_path
):
    b = explorer.browse
    b.rows.setValue(2)
    b.cols.setValue(3)
    b.start_seed.setValue(5)

    def grid_on_screen() -> bool:  # the 2x3 grid from seed 5, not an older one still arriving
        shown = explorer.shown.get("grid")
        return (
            explorer.grid_images is not None
            and len(explorer.grid_images) == 6
            and shown is not None
            and np.allclose(shown.z, explorer.grid_vectors())
        )

    qtbot.waitUntil(grid_on_screen, timeout=10_000)
    explorer.export_grid(str(tmp_path / "window.png"))
    argv = ["export", "grid", str(image_model), "--grid", "2x3", "--seed", "5"]
    assert main([*argv, "-o", str(tmp_path / "cli.png")]) == 0
    with Image.open(tmp_path / "window.png") as a, Image.open(tmp_path / "cli.png") as c:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_the_window_and_the_command_line_export_the_same_animation(
    qtbot, explorer, image_model, tmp_path
):
    it = explorer.interpolate
    for seed in (4, 9):
        explorer.seed.setValue(seed)
        it.add_seed.emit()
    it.steps.setValue(6)
    qtbot.waitUntil(
        lambda: explorer.path_images is not None and len(explorer.path_images) == 7,
        timeout=10_000,
    )
    explorer.export_animation(str(tmp_path / "window.gif"))
    argv = ["export", "interpolation", str(image_model), "--seeds", "4,9", "--steps", "6"]
    assert main([*argv, "--mode", "slerp", "-o", str(tmp_path / "cli.gif")]) == 0
    with Image.open(tmp_path / "window.gif") as a, Image.open(tmp_path / "cli.gif") as c:
        assert a.n_frames == c.n_frames == 7
        for i in range(7):
            a.seek(i)
            c.seek(i)
            np.testing.assert_array_equal(
                np.asarray(a.convert("RGB")), np.asarray(c.convert("RGB"))
            )


def test_explorer_follows_the_training_run(qtbot, window):
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.start_action.trigger()
    panel = window.explorer
    assert panel.source_kind == ""  # hidden behind the Train tab: nothing rendered yet
    window.tabs.setCurrentWidget(panel)
    assert panel.source_kind == "run" and panel.isEnabled()
    qtbot.waitUntil(lambda: "current" in panel.shown, timeout=10_000)
    assert panel.shown["current"].points is not None  # ring8: a 2-D model
    # A 2-D model's samples are points in the plane: no empty picture grid, a hint that
    # says where the samples are, and no export that could only do nothing.
    browse = panel.browse
    assert not browse.view.isVisibleTo(panel) and "2-D points" in browse.hint.text()
    assert not browse.export_button.isEnabled() and "image models" in browse.export_button.toolTip()
    assert not browse.upscale.isEnabled() and not browse.padding.isEnabled()
    assert not panel.tabs.isTabEnabled(panel.tabs.indexOf(panel.interpolate))
    # A snapshot carries no real points: the plane's legend does not list any.
    assert panel.points.legend_names() == ["generated", "mode centre"]
    panel.export_grid()
    assert window.banner.isVisible() and "image models" in window.banner.label.text()


def test_an_image_model_after_a_2d_one_has_its_grid_and_interpolation_back(
    qtbot, window, image_model
):
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.start_action.trigger()
    panel = window.explorer
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: "current" in panel.shown, timeout=10_000)
    panel.follow.setChecked(False)
    window.open_model(str(image_model))
    qtbot.waitUntil(
        lambda: "grid" in panel.shown and panel.shown["grid"].images is not None, timeout=30_000
    )
    assert panel.browse.view.isVisibleTo(panel) and panel.browse.export_button.isEnabled()
    assert panel.tabs.isTabEnabled(panel.tabs.indexOf(panel.interpolate))
    assert "double-click" in panel.browse.hint.text() and panel.browse.upscale.isEnabled()


# ------------------------------------------------------------------------------------------
# Hostile files opened in the window: the reason goes to the banner, nothing escapes


def _png_with_provenance_chunk(path, body: bytes) -> None:
    """A small PNG whose provenance is the zTXt data ``body`` (already compressed)."""
    import io
    import struct
    import zlib

    from ganstudio.core.explore.provenance import PROVENANCE_KEY

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    png = buf.getvalue()
    data = PROVENANCE_KEY.encode() + b"\0\0" + body
    chunk = struct.pack(">I", len(data)) + b"zTXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"zTXt" + data) & 0xFFFFFFFF)
    end = png.rindex(b"IEND") - 4
    path.write_bytes(png[:end] + chunk + png[end:])


def _hostile_files(folder, dim):
    import json
    import zlib

    from ganstudio.core.explore.latent import seed_vector

    good = [float(x) for x in seed_vector(0, dim)]
    packer = zlib.compressobj(9)
    bomb = packer.compress(b'{"app": "ganstudio", "x": "' + b"a" * 40 * 2**20) + packer.flush()
    walk = {"app": "ganstudio", "provenance_version": 1, "kind": "interpolation"}
    walk |= {"model_hash": "", "latent_dim": dim, "truncation": 1.0, "mode": "slerp"}
    walk |= {"easing": "linear", "loop": False, "fps": 24, "keyframes": {"seeds": [1, 2]}}
    texts = {
        "psi.json": (
            json.dumps({"vectors": [good], "truncation": 5}),
            '"truncation" must be a number in (0, 1]',
        ),
        "psi-text.json": (
            json.dumps({"vectors": [good], "truncation": "abc"}),
            '"truncation" must be',
        ),
        "seed.json": (json.dumps({"vectors": [good], "seed": 2**70}), '"seed" must be'),
        "nan.json": ('{"vectors": [[NaN' + ", 0" * (dim - 1) + "]]}", "finite numbers"),
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "steps.gif.json": (json.dumps(walk | {"steps": 500_000}), "steps must be"),
        "seeds.gif.json": (
            json.dumps(walk | {"steps": 4, "keyframes": {"seeds": [1, 2**70]}}),
            "seeds must be whole numbers from 0 to 2**63 - 1",
        ),
    }
    paths = {}
    for name, (text, message) in texts.items():
        (folder / name).write_text(text)
        paths[name] = (folder / name, message)
    _png_with_provenance_chunk(folder / "bomb.png", bomb)
    paths["bomb.png"] = (folder / "bomb.png", "more than 32 MiB of text")
    return paths


def test_hostile_files_opened_in_the_explorer_are_told_in_the_banner(
    qtbot, explorer, window, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QFileDialog

    paths = _hostile_files(tmp_path, explorer.state.dim)
    messages = []
    explorer.message.connect(lambda text, kind: messages.append((text, kind)))
    before = explorer.state.edited().copy()
    for name, (path, reason) in paths.items():
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path: (str(p), ""))
        vector_file = name.endswith(".json") and not name.endswith(".gif.json")
        button = explorer.load_vector_button if vector_file else explorer.open_export_button
        messages.clear()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # a slot: nothing may escape it
        assert len(messages) == 1, (name, messages)
        text, kind = messages[0]
        assert kind == "error" and str(path) in text and reason in text, (name, text)
        assert text.count(str(path)) == 1, text  # the file is named once
        assert window.banner.isVisible() and window.banner.label.text() == text
    np.testing.assert_array_equal(explorer.state.edited(), before)  # the view is unchanged


def test_unusual_but_valid_exports_are_restored_as_far_as_the_window_can(
    qtbot, explorer, window, image_model, tmp_path
):
    from ganstudio.core.explore.exports import grid_provenance, save_grid, vectors_from_provenance
    from ganstudio.core.modelfile import load_generator

    gen = load_generator(image_model)
    picture = np.zeros((4, 4, 3), np.uint8)
    far = tmp_path / "far.png"  # seeds past what the seed box holds: shown as vectors
    prov = grid_provenance(gen, 2, 2, seeds=range(2**40, 2**40 + 4))
    save_grid(far, picture, prov)
    explorer.open_export(str(far))
    assert (
        window.banner.kind == "info"
        and "Restored the view of far.png" in window.banner.label.text()
    )
    assert explorer.browse.source.currentData() == "vectors"
    np.testing.assert_array_equal(explorer.browse.fixed_vectors, vectors_from_provenance(prov))
    wide = tmp_path / "wide.png"  # a grid larger than the Browse tab lays out: said so
    save_grid(wide, picture, grid_provenance(gen, 64, 64, seeds=range(4096)))
    explorer.open_export(str(wide))
    assert window.banner.kind == "warning"
    assert "its 64x64 grid is larger than the 16x16" in window.banner.label.text()
    qtbot.waitUntil(lambda: not explorer.renderer.has_pending(), timeout=30_000)


def test_a_model_file_of_wrong_content_is_told_in_the_banner(qtbot, window, image_model, tmp_path):
    import json

    from safetensors.torch import load, save

    raw = image_model.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    meta = json.loads(header["__metadata__"]["ganstudio"])
    meta["architecture"]["kwargs"]["channels"] = 4
    path = tmp_path / "four.safetensors"
    path.write_bytes(save(load(raw), metadata={"ganstudio": json.dumps(meta)}))
    window.open_model(str(path))
    qtbot.waitUntil(window.banner.isVisible, timeout=30_000)
    text = window.banner.label.text()
    assert window.banner.kind == "error" and text.startswith("Could not open the model: ")
    assert str(path) in text and "channels must be one of 1, 3, not 4" in text
    assert window.opened_model is None


def test_at_the_window_s_smallest_size_no_control_of_the_explorer_is_cut(qtbot, explorer):
    """The controls column is as wide as its widest row (its "Random" button and slider
    values were cut off when the window was made narrow: a fixed 330 px minimum overrode
    the column's own)."""
    from PySide6.QtWidgets import QApplication

    from ganstudio.gui.widgets.scroll import VerticalScrollArea

    window = explorer.window()
    window.resize(window.minimumSizeHint())
    QApplication.processEvents()
    (column,) = explorer.findChildren(VerticalScrollArea)
    # What shows of the column (its contents keep their width and are cut at its side)
    assert column.viewport().width() >= column.widget().minimumSizeHint().width()
