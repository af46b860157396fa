"""The main window's status bar: messages on the left; on the right a busy indicator while
background work runs, and the run's step, speed, time left and device memory."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from ganstudio.core.durations import format_duration


class RunStatusBar(QStatusBar):
    """``show_step``, ``show_speed``, ``show_eta`` and ``show_memory`` fill the permanent
    fields (an empty text clears one); ``set_busy`` shows or hides the busy indicator."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step_label = QLabel("")
        self.speed_label = QLabel("")
        self.eta_label = QLabel("")
        self.memory_label = QLabel("")
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(120)
        self.busy.setRange(0, 0)
        self.busy.hide()
        fields = (self.step_label, self.speed_label, self.eta_label, self.memory_label)
        for w in fields:
            w.setStyleSheet("padding: 0 10px; border-left: 1px solid palette(mid);")
        self.addPermanentWidget(self.busy)
        for w in fields:
            self.addPermanentWidget(w)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def show_step(self, step: int, total: int) -> None:
        self.step_label.setText(f"step {step:,} / {total:,}")

    def show_speed(self, images_per_s: float) -> None:
        self.speed_label.setText(f"{images_per_s:,.0f} img/s")

    def show_eta(self, seconds: float | None) -> None:
        """Time left (infinite or NaN: unknown); None clears the field."""
        self.eta_label.setText("" if seconds is None else f"ETA {format_duration(seconds, '--')}")

    def show_memory(self, used: int | None) -> None:
        """Device bytes in use; None clears the field."""
        self.memory_label.setText("" if used is None else f"{used / 2**20:,.0f} MiB on device")
