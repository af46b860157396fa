"""The set-up panel is as wide as its widest row, also when a row grows after it was built."""

from PySide6.QtWidgets import QApplication, QPushButton

from ganstudio.gui.train.setup_panel import SetupPanel


def test_the_set_up_panel_asks_for_the_width_of_a_row_that_grew(qtbot):
    panel = SetupPanel()
    qtbot.addWidget(panel)
    panel.show()
    before = panel.minimumSizeHint().width()
    body = panel.widget()
    assert before >= body.minimumSizeHint().width()
    wide = QPushButton("a button wider than any row of the panel " * 3)
    wide.setMinimumWidth(before + 200)
    body.layout().addWidget(wide)
    QApplication.processEvents()
    assert panel.minimumSizeHint().width() >= before + 200  # it used to stay at `before`
