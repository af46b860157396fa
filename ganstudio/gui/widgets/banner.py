"""A message strip above the views: errors in red, warnings in amber; closable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class Banner(QFrame):
    """A message above the views: errors in red, warnings in amber; closable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("x")
        close.setFlat(True)
        close.setFixedWidth(24)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()
        self.kind = ""

    def show_message(self, text: str, kind: str = "error") -> None:
        colours = {"error": ("#fdecea", "#8a1c12"), "warning": ("#fff4e0", "#7a4b00")}
        bg, fg = colours.get(kind, ("#eef3fb", "#1f3b63"))
        self.setStyleSheet(
            f"Banner {{ background: {bg}; border-radius: 4px; }} QLabel {{ color: {fg}; }}"
        )
        self.label.setText(text)
        self.kind = kind
        self.show()
