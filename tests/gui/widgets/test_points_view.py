"""PointsView: its legend names every kind of marker, large enough to see."""

import numpy as np

from ganstudio.gui.widgets.samples_view import PointsView


def test_the_legend_names_real_generated_and_the_mode_centres_with_visible_markers(qtbot):
    view = PointsView()
    qtbot.addWidget(view)
    view.set_real(np.zeros((10, 2)), modes=[(0.0, 0.0), (1.0, 1.0)])
    view.set_fake(np.ones((10, 2)))
    legend = view.getPlotItem().legend
    entries = [(sample.item, label.text) for sample, label in legend.items]
    assert [name for _, name in entries] == ["real", "generated", "mode centre"]
    for item, _ in entries:
        assert item.opts["size"] >= 8  # the drawn points are 3 px: specks in a legend
    assert entries[2][0].opts["symbol"] == view.modes.opts["symbol"]


def test_without_a_legend_nothing_is_listed(qtbot):
    view = PointsView(legend=False)
    qtbot.addWidget(view)
    assert view.getPlotItem().legend is None


def test_the_legend_lists_real_points_only_while_some_are_drawn(qtbot):
    view = PointsView()
    qtbot.addWidget(view)
    view.set_real(None, modes=[(0.0, 0.0)])  # a model file's plane: no real data
    assert view.legend_names() == ["generated", "mode centre"]
    view.set_real(np.zeros((10, 2)))
    assert view.legend_names() == ["real", "generated", "mode centre"]
    view.set_real(np.zeros((0, 2)))
    assert view.legend_names() == ["generated", "mode centre"]
    assert PointsView(legend=False).legend_names() == []
