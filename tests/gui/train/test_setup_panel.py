"""The set-up panel's augmentation choices, and the status bar's augmentation field."""

from ganstudio.gui.train.setup_panel import SetupPanel
from ganstudio.gui.widgets.status_bar import RunStatusBar


def test_adaptive_augmentation_round_trips_through_the_panel(qtbot):
    panel = SetupPanel()
    qtbot.addWidget(panel)
    fields = panel.config_fields()
    assert "augment" not in fields and "diffaugment" not in fields
    panel.augment_auto.setChecked(True)  # no operation ticked: the engine picks all three
    fields = panel.config_fields()
    assert fields["augment"] == "auto" and "diffaugment" not in fields
    panel.diffaugment["translation"].setChecked(True)
    assert panel.config_fields()["diffaugment"] == "translation"

    other = SetupPanel()
    qtbot.addWidget(other)
    other.set_config_fields(panel.config_fields())
    assert other.augment_auto.isChecked() and other.diffaugment["translation"].isChecked()
    other.set_config_fields({"diffaugment": "color"})  # settings saved before adaptive existed
    assert not other.augment_auto.isChecked() and other.diffaugment["color"].isChecked()
    assert "augment" not in other.config_fields()
    # the R3GAN loss is offered
    assert other.loss.findData("rpgan") >= 0
    other.set_running(True)
    assert not other.augment_auto.isEnabled()  # not a live setting


def test_status_bar_shows_the_augmentation_probability(qtbot):
    bar = RunStatusBar()
    qtbot.addWidget(bar)
    bar.show_augment(0.1234)
    assert bar.augment_label.text() == "augment p 0.123"
    bar.show_augment(None)
    assert bar.augment_label.text() == ""
