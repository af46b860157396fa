"""CurvesPanel: data reaches the plot items, smoothing, log scale, follow, cursor readout."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF

from ganstudio.gui.widgets.curves import SMOOTHING_WINDOWS, CurvesPanel


@pytest.fixture
def panel(qtbot):
    widget = CurvesPanel()
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def stats(n, start=1, seed=0):
    """steps and four statistic columns like a Report's."""
    rng = np.random.default_rng(seed)
    steps = np.arange(start, start + n, dtype=np.int64)
    g_loss = 0.7 + 0.1 * rng.standard_normal(n)
    d_loss = 1.4 + 0.1 * rng.standard_normal(n)
    d_real = 0.5 + 0.05 * rng.standard_normal(n)
    d_fake = 0.4 + 0.05 * rng.standard_normal(n)
    return steps, g_loss, d_loss, d_real, d_fake


def drawn(panel, key):
    x, y = panel._items[key].getData()
    return (np.zeros(0), np.zeros(0)) if x is None else (x, y)


def x_range(panel):
    return panel._loss_plot.viewRange()[0]


def test_appended_points_reach_the_curves_on_the_next_timer_tick(qtbot, panel):
    steps, *columns = stats(300)
    panel.append(steps, *columns)
    qtbot.waitUntil(lambda: len(drawn(panel, "d_fake")[0]) == 300)  # the timer redrew
    for key, values in zip(("g_loss", "d_loss", "d_real", "d_fake"), columns):
        x, y = drawn(panel, key)
        np.testing.assert_array_equal(x, steps)
        np.testing.assert_allclose(y, values)
    assert x_range(panel)[1] == pytest.approx(300)  # following by default
    assert panel.point_count() == 300


def test_append_report_reads_a_report_like_object(panel):
    class Report:
        steps, g_loss, d_loss, d_real, d_fake = stats(5)

    panel.append_report(Report)
    panel.redraw()
    np.testing.assert_allclose(drawn(panel, "d_loss")[1], Report.d_loss)


def test_smoothing_changes_the_drawn_values(panel):
    steps, *columns = stats(500)
    panel.append(steps, *columns)
    panel.redraw()
    _, raw = drawn(panel, "g_loss")
    panel.set_smoothing_window(10)
    assert panel.smoothing_window() == 10
    panel.redraw()
    _, smooth = drawn(panel, "g_loss")
    expected = [columns[0][max(i - 9, 0) : i + 1].mean() for i in range(500)]
    np.testing.assert_allclose(smooth, expected)
    assert smooth.std() < raw.std() / 2
    panel.set_smoothing_window(700)  # not offered: the nearest on a log scale
    assert panel.smoothing_window() == 500
    panel.set_smoothing_window(0)
    assert panel.smoothing_window() == 1


def test_log_scale_sets_the_loss_plot_to_log_mode_and_hints_at_hidden_values(panel):
    steps, g_loss, d_loss, d_real, d_fake = stats(100)
    panel.append(steps, g_loss, -d_loss, d_real, d_fake)  # a WGAN critic loss: negative
    panel.set_log_scale(True)
    panel.redraw()
    assert panel._items["g_loss"].opts["logMode"][1]
    assert panel._loss_plot.getAxis("left").logMode
    assert not panel._d_plot.getAxis("left").logMode  # the lower plot stays linear
    assert panel._log_hint.isVisibleTo(panel)
    panel.set_log_scale(False)
    panel.redraw()
    assert not panel._items["g_loss"].opts["logMode"][1]
    assert not panel._log_hint.isVisibleTo(panel)
    panel.clear()
    panel.append(*stats(100))  # all losses positive: nothing hidden
    panel.set_log_scale(True)
    panel.redraw()
    assert not panel._log_hint.isVisibleTo(panel)


def test_a_pan_turns_follow_off_and_ticking_follow_brings_the_newest_step_back(qtbot, panel):
    panel.append(*stats(1000))
    panel.redraw()
    assert x_range(panel) == pytest.approx([1, 1000])
    view = panel._d_plot.getViewBox()  # the lower plot: the link moves the upper one too
    view.setXRange(100, 200, padding=0)
    view.sigRangeChangedManually.emit([True, True])  # what a mouse drag or wheel sends
    assert not panel.follows() and not panel._follow_box.isChecked()
    panel.append(*stats(4000, start=1001))
    panel.redraw()
    assert x_range(panel) == pytest.approx([100, 200])  # left alone while not following

    panel._follow_box.click()  # ticked again: follow a window of the current width
    assert panel.follows()
    qtbot.waitUntil(lambda: x_range(panel) == pytest.approx([4900, 5000]))
    x, _ = drawn(panel, "g_loss")
    assert x[-1] == 5000
    panel.append(*stats(500, start=5001))
    qtbot.waitUntil(lambda: x_range(panel) == pytest.approx([5400, 5500]))


def test_a_mouse_wheel_zoom_turns_follow_off(qtbot, panel):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    panel.append(*stats(1000))
    panel.redraw()
    plots = panel.plot_widget
    center = plots.mapFromScene(panel._loss_plot.getViewBox().sceneBoundingRect().center())
    event = QWheelEvent(
        QPointF(center),
        QPointF(plots.viewport().mapToGlobal(center)),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(plots.viewport(), event)
    qtbot.waitUntil(lambda: not panel.follows())
    low, high = x_range(panel)
    assert high - low < 999  # zoomed in


def test_follow_ticked_on_a_view_of_everything_keeps_showing_everything(panel):
    panel.append(*stats(1000))
    panel.set_follow(False)
    panel._loss_plot.setXRange(-50, 1100, padding=0)
    panel.set_follow(True)
    panel.append(*stats(1000, start=1001))
    panel.redraw()
    assert x_range(panel) == pytest.approx([1, 2000])


def test_set_history_then_append_continues_the_step_axis(panel):
    steps, *columns = stats(300)
    history = np.stack(columns, axis=1).astype(np.float32)
    panel.append(*stats(50, seed=3))  # an older run's points: replaced
    panel.set_history(steps, history)
    panel.append(*stats(100, start=301))
    panel.redraw()
    x, y = drawn(panel, "d_real")
    np.testing.assert_array_equal(x, np.arange(1, 401))
    np.testing.assert_allclose(y[:300], history[:, 2], rtol=1e-6)
    assert x_range(panel)[1] == pytest.approx(400)


def test_an_earlier_step_rewinds_the_curves(panel):
    panel.append(*stats(1000))
    panel.append(*stats(10, start=601))  # resumed from an older checkpoint
    panel.redraw()
    assert drawn(panel, "g_loss")[0][-1] == 610
    assert panel.point_count() == 610


def test_values_under_the_cursor(panel):
    steps, g_loss, d_loss, d_real, d_fake = stats(1000)
    panel.append(steps, g_loss, d_loss, d_real, d_fake)
    panel.redraw()
    assert panel.readout_text().startswith("newest 1,000")
    view = panel._d_plot.getViewBox()
    panel.show_values_at(view.mapViewToScene(QPointF(250.2, 0.5)))
    text = panel.readout_text()
    assert text.startswith("step 250 ")
    for name, values in (("G loss", g_loss), ("D loss", d_loss), ("D(G(z))", d_fake)):
        assert f"{name} {values[249]:.4g}" in text
    for line in panel._cursor_lines:  # a crosshair on both plots
        assert line.isVisible() and line.value() == pytest.approx(250.2)

    panel.set_smoothing_window(10)
    panel.show_values_at(view.mapViewToScene(QPointF(250, 0.5)))
    assert f"G loss {g_loss[240:250].mean():.4g}" in panel.readout_text()

    panel.show_values_at(QPointF(-5000, -5000))  # off the plots: back to the newest step
    assert panel.readout_text().startswith("newest 1,000")
    assert not any(line.isVisible() for line in panel._cursor_lines)


def test_a_followed_view_moving_under_a_still_mouse_moves_the_readout_with_it(panel):
    panel.append(*stats(1000))
    panel.redraw()
    view = panel._d_plot.getViewBox()
    mouse = view.mapViewToScene(QPointF(500, 0.5))  # the middle of the plot; it stays there
    panel.show_values_at(mouse)
    assert panel.readout_text().startswith("step 500 ")
    panel.append(*stats(1000, start=1001))  # followed: the view now spans steps 1-2000
    panel.redraw()
    step = round(view.mapSceneToView(mouse).x())
    assert 900 < step < 1100
    assert panel.readout_text().startswith(f"step {step:,} ")
    for line in panel._cursor_lines:
        assert line.value() == pytest.approx(view.mapSceneToView(mouse).x())
    # The mouse left: the newest step again, also after a redraw.
    panel.leaveEvent(QEvent(QEvent.Type.Leave))
    panel.redraw()
    assert panel.readout_text().startswith("newest 2,000")


def test_state_round_trip_and_strings_from_qsettings(qtbot, panel):
    panel.set_smoothing_window(100)
    panel.set_log_scale(True)
    panel.set_follow(False)
    state = panel.state()
    assert state == {"smoothing": 100, "log_scale": True, "follow": False}

    other = CurvesPanel()
    qtbot.addWidget(other)
    other.restore_state(state)
    assert other.state() == state
    other.restore_state({"smoothing": "20", "log_scale": "false", "follow": "true"})
    assert other.state() == {"smoothing": 20, "log_scale": False, "follow": True}
    other.restore_state({"smoothing": "lots", "log_scale": None})  # ignored
    assert other.state() == {"smoothing": 20, "log_scale": False, "follow": True}
    assert SMOOTHING_WINDOWS[0] == 1


def test_d_output_label_follows_the_loss(panel):
    panel.set_d_output_is_probability(False)
    assert "Critic" in panel._d_plot.getAxis("left").labelText
    panel.set_d_output_is_probability(True)
    assert "probability" in panel._d_plot.getAxis("left").labelText


def test_clear_empties_the_curves(panel):
    panel.append(*stats(100))
    panel.redraw()
    panel.clear()
    panel.redraw()
    assert len(drawn(panel, "g_loss")[0]) == 0
    assert panel.readout_text() == ""


def test_200k_points_redraw_decimated_with_spikes_and_gaps(panel):
    n = 200_000
    steps, g_loss, d_loss, d_real, d_fake = stats(n)
    g_loss[123_456] = 50.0
    d_loss[150_000:160_000] = np.nan  # diverged for a while
    for i in range(0, n, 1500):
        chunk = slice(i, i + 1500)
        panel.append(steps[chunk], g_loss[chunk], d_loss[chunk], d_real[chunk], d_fake[chunk])
    panel.redraw()
    width = panel._loss_plot.getViewBox().width()
    x, y = drawn(panel, "g_loss")
    assert 0 < len(x) <= 2 * width + 10
    assert y.max() == 50.0 and x[np.argmax(y)] == 123_457
    _, y = drawn(panel, "d_loss")
    assert np.isnan(y).any() and np.isfinite(y).sum() > len(y) / 2
    panel.set_smoothing_window(1000)
    panel.redraw()
    assert 0 < len(drawn(panel, "d_fake")[0]) <= 2 * width + 10


def test_a_slow_first_paint_does_not_hold_back_the_next_redraws(qtbot, panel, monkeypatch):
    """A first paint that lays out fonts and axes can take a second: spaced by that cost
    (2% of the time), the next redraw came 50 s later and a short run's curves stayed
    empty. The smaller of the last two costs spaces the redraws, as for the previews."""
    from ganstudio.gui.widgets import curves

    paints = iter([1.0])
    monkeypatch.setattr(curves._TimedLayout, "take_painting", lambda self: next(paints, 0.0))
    steps, *columns = stats(100)
    panel.append(steps, *columns)
    qtbot.waitUntil(lambda: len(drawn(panel, "d_fake")[0]) == 100)  # cost: 1 s of painting
    steps, *columns = stats(100, start=101)
    panel.append(steps, *columns)
    qtbot.waitUntil(lambda: len(drawn(panel, "d_fake")[0]) == 200, timeout=3000)


def test_a_narrow_panel_wraps_the_readout_between_values_and_keeps_legends_off_the_data(
    qtbot, panel
):
    import re

    import pyqtgraph as pg
    from PySide6.QtGui import QTextDocument

    panel.append(*stats(100))
    panel.redraw()
    label = panel._readout
    line = label.fontMetrics().height()
    panel.resize(1200, 500)
    qtbot.waitUntil(lambda: label.height() < 2 * line)  # one line when there is room
    panel.resize(380, 500)
    qtbot.waitUntil(lambda: label.height() >= 2 * line)  # nothing cut off: more lines
    # Every line holds whole "name value" pairs (no break inside "|grad D| 1.23").
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setHtml(label.text())
    doc.setDocumentMargin(0)
    doc.setTextWidth(label.contentsRect().width())
    doc.size()  # lays the text out
    text = doc.toPlainText()
    layout = doc.firstBlock().layout()
    lines = [layout.lineAt(i) for i in range(layout.lineCount())]
    assert len(lines) >= 2
    for ln in lines:
        part = text[ln.textStart() : ln.textStart() + ln.textLength()].strip()
        assert re.fullmatch(r".*\S\s([-0-9.e+]+|NaN|–)", part.replace("\u2060", "")), lines
    # The legends are lines above the plots: nothing is drawn over the newest points.
    for plot in panel._all_plots:
        assert not [i for i in plot.getViewBox().allChildren() if isinstance(i, pg.LegendItem)]
        assert plot.legend is None
    legend = panel._grad_plot.titleLabel.item.toPlainText().replace("\u2060", "")
    assert "|grad G|" in legend and "|grad D|" in legend


def test_the_readout_keeps_its_height_as_its_values_change_length(panel):
    label = panel._readout
    widths = range(300, 1300, 10)
    panel.append(*stats(100))
    panel.redraw()
    short = {w: label.heightForWidth(w) for w in widths}
    steps, *columns = stats(100, start=101)
    panel.append(steps, *[c * -123456.7 for c in columns])  # "-8.642e+04": longer values
    panel.redraw()
    assert "e+0" in panel.readout_text()
    assert {w: label.heightForWidth(w) for w in widths} == short  # the plots do not jump
    assert len(set(short.values())) > 1  # and it still wraps where the panel is narrow


def test_the_gradient_plot_labels_only_ticks_that_fit(panel):
    import math

    from PySide6.QtGui import QFontMetrics

    from ganstudio.gui.widgets.log_axis import LINE_SPACING, LogAxis, log_ticks, tick_label

    axis = panel._grad_plot.getAxis("left")
    assert isinstance(axis, LogAxis) and axis.logMode
    height = QFontMetrics(axis.font()).height()
    lo, hi = math.log10(0.04), math.log10(3.0)
    (_, labelled), (_, minor) = axis.tickValues(lo, hi, 120)
    assert (labelled, minor) == log_ticks(lo, hi, 120, height * LINE_SPACING)
    assert len(labelled) >= 2 and np.diff(labelled).min() * 120 / (hi - lo) >= height
    strings = axis.tickStrings(labelled, 1.0, 1.0)
    assert strings == [tick_label(v) for v in labelled] and "0.1" in strings
    assert axis.tickStrings(minor, 1.0, None) == [""] * len(minor)
