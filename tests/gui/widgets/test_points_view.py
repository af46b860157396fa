"""PointsView: its legend names every kind of marker, large enough to see."""

import numpy as np
import pyqtgraph as pg

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


def test_real_points_on_a_mode_centre_are_drawn_over_its_cross(qtbot):
    """ring8's real points lie within a pixel or two of the centres: under the crosses
    they could not be seen at all."""
    view = PointsView(legend=False)
    qtbot.addWidget(view)
    view.resize(300, 300)
    rng = np.random.default_rng(0)
    centres = [(-1.0, -1.0), (1.0, 1.0)]
    real = np.concatenate([rng.normal(c, 0.005, size=(300, 2)) for c in centres])
    view.set_real(real, modes=centres)
    view.setRange(xRange=(-2, 2), yRange=(-2, 2), padding=0)
    view.show()
    qtbot.waitExposed(view)
    image = view.grab().toImage()
    vb = view.getPlotItem().getViewBox()
    for cx, cy in centres:
        at = view.mapFromScene(vb.mapViewToScene(pg.Point(cx, cy)))
        around = [
            image.pixelColor(at.x() + dx, at.y() + dy).getRgb()
            for dx in range(-3, 4)
            for dy in range(-3, 4)
        ]
        # The real points' own blue (40, 90, 200) shows, not darkened by the grey cross.
        real_blue = [rgb for rgb in around if rgb[2] >= 180 and rgb[0] <= 70]
        assert len(real_blue) >= 5, (cx, cy, around)


def test_a_new_preview_repaints_the_points_but_not_the_axes_and_grid(qtbot, monkeypatch):
    """The axes draw the grid over the whole plot; they are redrawn when the view's range
    changes, not for each new set of generated points."""
    painted: list[str] = []
    for cls in (pg.AxisItem, pg.ScatterPlotItem):
        original = cls.paint

        def counting(item, *args, _original=original, _name=cls.__name__):
            painted.append(_name)
            return _original(item, *args)

        monkeypatch.setattr(cls, "paint", counting)
    view = PointsView(legend=False)
    qtbot.addWidget(view)
    view.resize(320, 320)
    rng = np.random.default_rng(0)
    view.set_real(rng.normal(size=(200, 2)))
    view.set_fake(rng.normal(size=(200, 2)))
    view.show()
    qtbot.waitExposed(view)

    def painted_after(change) -> list[str]:
        painted.clear()
        change()
        qtbot.waitUntil(lambda: "ScatterPlotItem" in painted)
        qtbot.wait(50)  # and whatever else that paint brings
        return list(painted)

    painted_after(view.update)  # the first paint (when it did not come with the showing)
    # A new preview: its points are drawn over the axes kept from the last paint.
    assert "AxisItem" not in painted_after(lambda: view.set_fake(rng.normal(size=(200, 2))))
    # A new range: new ticks, both axes are drawn again.
    moved = painted_after(lambda: view.setRange(xRange=(-5, 5), yRange=(-5, 5), padding=0))
    assert moved.count("AxisItem") >= 2
