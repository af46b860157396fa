"""The Diagnose tab: the 2-D lab drawn from the run's probes (only while visible), slow
motion's two half steps, D's outputs and extremes for images with a nearest-neighbour
search in the background, quality curves with their floor, and the warnings list."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QToolButton

from ganstudio.core.quality.monitor import Quality
from ganstudio.core.quality.warnings import TrainingWarning
from ganstudio.core.runs.job import RunStarted
from ganstudio.gui.diagnose.images import DHistograms, histogram_columns, output_range
from ganstudio.gui.diagnose.lab2d import ARROWS, arrow_segments, heat_levels, manifold_polylines
from ganstudio.gui.diagnose.panel import NEIGHBOURS, DiagnosticsPanel


def click(qtbot, window, action):
    """Click the toolbar button of ``action``, as a user would."""
    for button in window.findChildren(QToolButton):
        if button.defaultAction() is action:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            return
    raise AssertionError(f"no toolbar button for {action.text()}")


def drawn(panel) -> bool:
    """The newest probe has been drawn."""
    return panel.last_probe is not None and not panel._probe_dirty


def test_a_2d_run_draws_the_lab_from_the_newest_probe(qtbot, window, fill):
    fill(window, {"steps": 100_000})
    panel, lab = window.diagnose, window.diagnose.lab
    assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Diagnose"
    assert window.tabs.indexOf(panel) == window.tabs.indexOf(window.explorer) + 1
    with qtbot.waitSignal(window.session.probe, timeout=30_000):
        window.commands.start.trigger()
    # The probes feed this tab alone: while it is hidden the run makes fewer.
    assert window.session.control.probes_watched is False
    assert panel.stack.currentWidget() is lab
    assert lab.heat_item.image is None  # the tab is hidden: nothing drawn yet
    click(qtbot, window, window.commands.pause)
    window.tabs.setCurrentWidget(panel)
    assert window.session.control.probes_watched is True
    qtbot.waitUntil(lambda: drawn(panel) and lab.step == panel.last_probe.step, timeout=10_000)

    field = panel.last_probe.field
    np.testing.assert_array_equal(lab.heat_item.image, field.heat)
    assert lab.colour_bar.levels() == (0.0, 1.0)  # non-saturating: probabilities
    x, _ = lab.arrows_item.getData()
    assert len(x) == 6 * min(ARROWS, len(field.fake))  # shaft and two head strokes each
    x, _ = lab.manifold_item.getData()
    rows, cols = field.manifold.shape[:2]
    assert len(x) == 2 * rows * cols
    assert len(lab.real_item.data) == len(field.real) and len(lab.fake_item.data) == 512
    np.testing.assert_array_equal(lab.bar_item.opts["height"], field.mode_counts)
    assert len(field.mode_counts) == 9 and lab.bars.isVisible()
    off = field.mode_counts[-1] / field.mode_counts.sum()
    title = lab.bars.getPlotItem().titleLabel.text  # says what "on a mode" means
    assert f"within {field.mode_radius:.3g} (3 sigma)" in title and f"{off:.0%}" in title
    assert f"Step {panel.last_probe.step:,}" in lab.caption.text()
    lab.layers["arrows"].setChecked(False)
    assert not lab.arrows_item.isVisible() and lab.heat_item.isVisible()
    assert panel.redraw_ms is not None


def test_slow_motion_steps_show_the_discriminator_then_the_generator(
    qtbot, window, fill, settings, make_window
):
    fill(window, {"steps": 100_000})
    action = window.commands.slow_motion
    assert action.isCheckable() and "discriminator's update" in action.toolTip()
    action.trigger()
    assert action.isChecked() and window.session.slow_motion
    window.tabs.setCurrentWidget(window.diagnose)
    lab = window.diagnose.lab
    with qtbot.waitSignal(window.session.report, timeout=30_000):
        window.commands.start.trigger()
    click(qtbot, window, window.commands.pause)

    with qtbot.waitSignal(
        window.session.probe, timeout=15_000, check_params_cb=lambda p: p.phase == "d"
    ) as got:
        click(qtbot, window, window.commands.step)
    qtbot.waitUntil(lambda: lab.phase == "d", timeout=5_000)
    assert "after the discriminator's update" in lab.caption.text().lower()
    step = got.args[0].step
    with qtbot.waitSignal(
        window.session.probe, timeout=15_000, check_params_cb=lambda p: p.phase == "g"
    ) as got:
        click(qtbot, window, window.commands.step)
    assert got.args[0].step == step + 1
    qtbot.waitUntil(lambda: lab.phase == "g", timeout=5_000)
    assert "after the generator's update" in lab.caption.text().lower()
    window.close()

    again = make_window(settings)  # remembered
    assert again.commands.slow_motion.isChecked() and again.session.slow_motion
    again.close()


@pytest.fixture
def digits(window, fill):
    """The window with a tiny digits set prepared, ready to train a small DCGAN."""
    from ganstudio.core.data import load_dataset
    from ganstudio.gui.engine import PreparedData

    ds = load_dataset("builtin:digits?n=256")
    window.data = PreparedData("builtin:digits?n=256", ds, ds.info, "", None, None)
    # D's outputs as probabilities (0 to 1), which the histograms below check
    window.setup.loss.setCurrentIndex(window.setup.loss.findData("nonsaturating"))
    fill(window, {"steps": 100_000, "width": 8, "batch_size": 32})
    assert window.commands.start.isEnabled()
    return window


def test_an_image_run_shows_d_outputs_extremes_and_nearest_real_images(qtbot, digits):
    window = digits
    panel, view = window.diagnose, window.diagnose.images
    window.tabs.setCurrentWidget(panel)
    probes = []
    window.session.probe.connect(probes.append)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: len(probes) >= 2, timeout=60_000)
    click(qtbot, window, window.commands.pause)
    qtbot.waitUntil(lambda: drawn(panel), timeout=10_000)
    assert panel.stack.currentWidget() is view

    # D's outputs over time: one column per probe, the latest also drawn sideways.
    hist = view.histograms
    image = hist.maps["real"].image
    assert image.shape == (40, len(hist.steps)) and len(hist.steps) == len(probes)
    p = panel.last_probe
    want = histogram_columns([p.d_real], 0.0, 1.0)[0]
    np.testing.assert_allclose(image[:, -1], want, rtol=1e-6)
    np.testing.assert_allclose(hist.latest["real"].opts["width"], want, rtol=1e-6)
    assert hist.maps["fake"].image[:, -1].sum() == pytest.approx(1.0)

    # The extremes, with their scores.
    assert view.least.count() == len(p.least_real) == 8 and view.most.count() == 8
    assert view.most._texts[0] == f"{p.most_real_scores[0]:.3g}"

    # A click on a generated image: its nearest real images, found in the background.
    cell = view.most._cells()[2].center()
    qtbot.mouseClick(view.most, Qt.MouseButton.LeftButton, pos=QPoint(int(cell.x()), int(cell.y())))
    assert view.most.selected == 2
    qtbot.waitUntil(lambda: view.neighbours_result is not None, timeout=30_000)
    idx, dist = view.neighbours_result
    assert len(idx) == NEIGHBOURS and (np.diff(dist) >= 0).all()
    assert view.neighbours.count() == 1 + NEIGHBOURS
    data = window.data.dataset.data.numpy()
    q = p.most_real[2].astype(np.float64) / 127.5 - 1
    x = data.astype(np.float64) / 127.5 - 1
    brute = np.sqrt(((x - q) ** 2).reshape(len(x), -1).sum(1))
    np.testing.assert_array_equal(idx, np.argsort(brute, kind="stable")[:NEIGHBOURS])
    np.testing.assert_allclose(dist, np.sort(brute)[:NEIGHBOURS], rtol=1e-4)


@pytest.fixture
def panel(qtbot):
    p = DiagnosticsPanel()
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    info = RunStarted("run", {}, {"kind": "images"}, "cpu", False, 0, 100, probabilistic=True)
    p.on_started(info)
    return p


def test_quality_draws_curves_with_the_real_data_floor(qtbot, panel):
    view = panel.quality
    panel.show_quality(Quality(0, "preparing", progress=0.4, message="Training a classifier"))
    qtbot.waitUntil(lambda: not panel._quality_dirty, timeout=5_000)
    assert view.progress.isVisible() and view.progress.value() == 40
    assert "Training a classifier" in view.status.text() and not view.graphs.isVisible()

    floor = {"fd": 2.0, "kid": 0.001, "precision": 0.8, "recall": 0.75}
    for step, fd in ((100, 40.0), (200, 25.0), (300, 12.5)):
        metrics = {"fd": fd, "kid": fd / 1000, "precision": 0.5, "recall": 0.4}
        panel.show_quality(Quality(step, "ready", metrics=metrics, floor=floor, diversity=0.9))
    qtbot.waitUntil(lambda: not panel._quality_dirty, timeout=5_000)
    assert not view.progress.isVisible() and view.graphs.isVisible()
    x, y = view.curves["fd"].getData()
    assert x.tolist() == [100, 200, 300] and y.tolist() == [40.0, 25.0, 12.5]
    assert view.curves["recall"].getData()[1].tolist() == [0.4] * 3
    for name, value in floor.items():
        line = view.floors[name]
        assert line.isVisible() and line.value() == pytest.approx(value)
        assert line.pen.style() == Qt.PenStyle.DashLine
    assert not view.plots["score"].isVisible()  # no classes, no score
    assert "FD 12.5 (real data: 2)" in view.status.text() and "diversity 0.90" in view.status.text()
    assert "lower is better" in view.plots["fd"].titleLabel.text

    panel.show_quality(Quality(300, "off", message="the data has no images"))
    qtbot.waitUntil(lambda: not panel._quality_dirty, timeout=5_000)
    assert "the data has no images" in view.status.text()


def test_quality_is_drawn_only_when_shown(qtbot, panel):
    panel.hide()
    panel.show_quality(Quality(10, "ready", metrics={"fd": 3.0}, floor={"fd": 1.0}))
    qtbot.wait(50)
    x, _ = panel.quality.curves["fd"].getData()
    assert x is None or len(x) == 0  # hidden: kept, not drawn
    panel.show()
    qtbot.waitUntil(lambda: not panel._quality_dirty, timeout=5_000)
    assert panel.quality.curves["fd"].getData()[1].tolist() == [3.0]


def test_a_warning_adds_a_row_and_marks_the_tab(qtbot, window):
    w = TrainingWarning("d_wins", 1234, "The discriminator is winning.", "Lower its rate.")
    window.session.warning.emit(w)
    rows = window.diagnose.warnings
    assert rows.warnings_count() == 1
    text = rows.rows[0].text()
    assert "Step 1,234" in text and "The discriminator is winning." in text
    assert "Lower its rate." in text and "Warnings (1)" in rows.header.text()
    assert window.banner.isVisible()
    index = window.tabs.indexOf(window.diagnose)
    assert window.tabs.tabText(index) == "Diagnose (1)"
    window.tabs.setCurrentIndex(index)
    assert window.tabs.tabText(index) == "Diagnose"


def test_drawing_helpers():
    # Arrows: the longest is ARROW_SPAN of the view, directions kept, three strokes each.
    seg = arrow_segments(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [0, -1]]), 10)
    assert seg.shape == (12, 2)
    np.testing.assert_allclose(seg[1], [0.8, 0.0])  # the longest: 0.08 * 10
    np.testing.assert_allclose(seg[7], [1.0, 0.6])  # half as long, pointing down
    assert arrow_segments(np.zeros((3, 2)), np.zeros((3, 2)), 1.0).shape == (0, 2)
    # The manifold: rows then columns, broken between polylines.
    grid = np.stack(np.meshgrid(np.arange(3.0), np.arange(2.0), indexing="ij"), -1)  # (3, 2, 2)
    xy, connect = manifold_polylines(grid)
    assert xy.shape == (12, 2) and connect.tolist() == [1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0]
    # Critic scores: centred on the median.
    heat = np.array([[0.0, 1.0], [2.0, 10.0]], np.float32)
    lo, hi = heat_levels(heat, probabilistic=False)
    assert (lo + hi) / 2 == pytest.approx(1.5) and heat_levels(heat, True) == (0.0, 1.0)
    # Histograms: shares per column, adaptive range for critic scores.
    cols = [np.array([0.1, 0.1, 0.9]), np.array([0.5])]
    h = histogram_columns(cols, 0.0, 1.0, bins=10)
    assert h[0, 1] == pytest.approx(2 / 3) and h[0, 9] == pytest.approx(1 / 3) and h[1, 5] == 1
    assert output_range(cols, True) == (0.0, 1.0)
    lo, hi = output_range([np.linspace(-5, 5, 101)], False)
    assert lo < -4.5 and hi > 4.5


def test_critic_histograms_follow_the_range_and_redraw_only_new_columns(qtbot):
    hist = DHistograms()
    qtbot.addWidget(hist)
    hist.set_probabilistic(False)
    rng = np.random.default_rng(0)
    outputs = []
    for i, scale in enumerate((1, 1, 1, 5, 5, 1)):  # the range widens at the 4th probe
        real, fake = rng.normal(2, scale, 64), rng.normal(-2, scale, 64)
        outputs.append((real, fake))
        hist.append(10 * i, real, fake)
        hist.redraw()
        lo, hi = output_range([x for pair in outputs for x in pair], False)
        assert hist._range == (lo, hi)
        want = histogram_columns([r for r, _ in outputs], lo, hi)
        np.testing.assert_allclose(hist.maps["real"].image, want.T, rtol=1e-6)
    assert hist._range[0] < -8 and hist._range[1] > 8


def test_quality_interval_is_remembered_and_reaches_the_run(
    qtbot, window, fill, settings, make_window
):
    quality = window.diagnose.quality
    assert quality.interval_seconds() == 120.0  # the default: every 2 minutes
    quality.interval.setCurrentIndex(quality.interval.findText("30 s"))
    assert window.diagnose_tab.metrics_every() == 30.0
    assert make_window(settings).diagnose_tab.metrics_every() == 30.0  # remembered
    # Off: a run measures nothing.
    quality.interval.setCurrentIndex(quality.interval.findText("off"))
    fill(window, {"steps": 200})
    got = []
    window.session.quality.connect(got.append)
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.commands.start.trigger()
    assert got == []


def _plane_probe(mode_counts):
    from ganstudio.core.training.events import Field2D, Probe

    rng = np.random.default_rng(0)
    points = rng.normal(size=(64, 2)).astype(np.float32)
    field = Field2D(
        extent=(-2.0, 2.0, -2.0, 2.0),
        heat=rng.random((8, 8)).astype(np.float32),
        real=points,
        fake=points,
        push=np.zeros_like(points),
        manifold=rng.normal(size=(3, 3, 2)).astype(np.float32),
        mode_counts=np.asarray(mode_counts, np.int64),
        mode_radius=0.3,
    )
    empty = np.zeros((0,), np.float32)
    images = np.zeros((0, 1, 8, 8), np.uint8)
    return Probe(1, "", True, empty, empty, images, empty, images, empty, field)


def test_the_mode_bars_keep_their_scale_when_most_points_are_on_none(qtbot):
    """Early in a run most points are on no mode: the bars' scale fits the modes' bars, and
    the grey bar, cut at the top, carries its count."""
    from ganstudio.gui.diagnose.lab2d import Lab2D

    lab = Lab2D()
    qtbot.addWidget(lab)
    lab.show_probe(_plane_probe([10, 4, 0, 7, 3, 9, 2, 5, 1960]))
    _, (y0, y1) = lab.bars.getViewBox().viewRange()
    assert y0 == 0 and y1 == pytest.approx(10 * 1.15)  # the tallest mode's bar fills it
    assert lab.off_label.isVisible() and lab.off_label.toPlainText() == "1,960 \u2191"
    np.testing.assert_array_equal(lab.bar_item.opts["height"][-1], 1960)
    # Once the modes hold most points the grey bar fits under the scale: no label.
    lab.show_probe(_plane_probe([200, 190, 210, 205, 199, 201, 195, 198, 40]))
    _, (_, y1) = lab.bars.getViewBox().viewRange()
    assert y1 == pytest.approx(210 * 1.15) and not lab.off_label.isVisible()
    lab.clear()
    assert not lab.off_label.isVisible()
