"""StableTabWidget: a label changing its text inside a page does not repaint the whole tab;
real layout changes are still laid out."""

from PySide6.QtCore import QEvent, QObject, QPoint, QSize
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from ganstudio.gui.widgets.tabs import StableTabWidget


class PaintCounter(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event):  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _tabs(qtbot, cls):
    tabs = cls()
    qtbot.addWidget(tabs)
    page = QWidget()
    layout = QVBoxLayout(page)
    changing, still = QLabel("step 0"), QLabel("a label that never changes")
    layout.addWidget(changing)
    layout.addWidget(still)
    tabs.addTab(page, "Train")
    tabs.resize(500, 300)
    tabs.show()
    qtbot.waitExposed(tabs)
    qtbot.wait(50)
    return tabs, page, changing, still


def _change_text(qtbot, label, times=5):
    for i in range(times):
        label.setText(f"step {i + 1:,}")
        qtbot.wait(20)


def test_a_label_s_new_text_repaints_no_other_widget_of_the_page(qtbot):
    tabs, _page, changing, still = _tabs(qtbot, StableTabWidget)
    others = PaintCounter(still)
    own = PaintCounter(changing)
    _change_text(qtbot, changing)
    assert own.count >= 1  # the label itself is drawn again
    assert others.count == 0


def test_qt_s_own_tab_widget_repaints_the_page_for_each_new_text(qtbot):
    # What StableTabWidget is for: if Qt stops doing this, the class can go.
    tabs, _page, changing, still = _tabs(qtbot, QTabWidget)
    others = PaintCounter(still)
    _change_text(qtbot, changing)
    assert others.count >= 3


def test_the_page_still_follows_the_tab_widget_s_size_and_tab_bar(qtbot):
    tabs, page, changing, _still = _tabs(qtbot, StableTabWidget)
    _change_text(qtbot, changing, 2)
    tabs.resize(700, 420)
    qtbot.wait(50)
    assert page.width() >= 690 and page.height() > 300
    top = page.mapTo(tabs, QPoint(0, 0)).y()
    assert top > 0  # under the tab bar
    tabs.setTabPosition(QTabWidget.TabPosition.South)
    qtbot.wait(50)
    assert page.mapTo(tabs, QPoint(0, 0)).y() < top  # the tab bar moved below the page
    tabs.setTabText(0, "A much longer title for the only tab")
    qtbot.waitUntil(lambda: tabs.tabBar().width() >= tabs.tabBar().sizeHint().width())


def test_a_page_s_larger_minimum_size_reaches_the_window_s_layout(qtbot):
    outer = QWidget()
    qtbot.addWidget(outer)
    tabs = StableTabWidget()
    page = QWidget()
    inner = QVBoxLayout(page)
    box = QLabel("x")
    inner.addWidget(box)
    tabs.addTab(page, "Train")
    QVBoxLayout(outer).addWidget(tabs)
    outer.resize(200, 150)
    outer.show()
    qtbot.waitExposed(outer)
    box.setMinimumSize(QSize(400, 300))
    qtbot.waitUntil(lambda: outer.minimumSizeHint().width() >= 400)
    assert tabs.minimumSizeHint().height() >= 300
