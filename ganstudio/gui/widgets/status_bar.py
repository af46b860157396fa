"""The main window's status bar: on the left what the run is doing (its phase), which short
messages and the toolbar's status tips cover for a while; on the right a busy indicator while
background work runs, and the run's step, speed, time left, device memory and the adaptive
augmentation's probability."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from ganstudio.core.config import MAX_STEPS
from ganstudio.core.durations import format_duration


class RunStatusBar(QStatusBar):
    """``show_phase`` says what the run is doing; ``show_step``, ``show_speed``, ``show_eta``,
    ``show_memory`` and ``show_augment`` fill the permanent fields (an empty text clears
    one); ``set_busy`` shows or hides the busy indicator.

    The phase is a normal (not a permanent) widget: a temporary message, such as a status tip
    while the pointer is over a toolbar button, hides it, and it comes back when the message
    goes. A phase shown as a message instead would be lost for good to the first status tip
    (QStatusBar clears its message when the tip ends)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.phase_label = QLabel("")
        # A long phase (a result naming a deep model path) is cut at the right, its whole
        # text in the tooltip, rather than widening the window past the screen.
        self.phase_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.addWidget(self.phase_label, 1)
        self.step_label = QLabel("")
        self.speed_label = QLabel("")
        self.eta_label = QLabel("")
        self.memory_label = QLabel("")
        self.augment_label = QLabel("")
        self.augment_label.setToolTip(
            "Adaptive augmentation: the probability of each DiffAugment operation now"
        )
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(120)
        self.busy.setRange(0, 0)
        self.busy.hide()
        fields = (
            self.step_label,
            self.speed_label,
            self.eta_label,
            self.memory_label,
            self.augment_label,
        )
        for w in fields:
            w.setStyleSheet("padding: 0 10px; border-left: 1px solid palette(mid);")
        self.addPermanentWidget(self.busy)
        for w in fields:
            self.addPermanentWidget(w)

    def show_phase(self, text: str) -> None:
        """What the run is doing ("Training", "Measuring the final samples ...") or how it
        ended, until the next phase; an empty text clears it."""
        self.phase_label.setText(text)
        self.phase_label.setToolTip(text)

    def phase(self) -> str:
        return self.phase_label.text()

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def show_step(
        self, step: int, total: int, elapsed: float = 0.0, budget_seconds: float | None = None
    ) -> None:
        """The step of the budget, or with a time budget (which may end first) the time of
        it too."""
        if budget_seconds is None:
            self.step_label.setText(f"step {step:,} / {total:,}")
            return
        steps = f"step {step:,}" + (f" / {total:,}" if total < MAX_STEPS else "")
        self.step_label.setText(
            f"{steps} · {format_duration(elapsed)} / {format_duration(budget_seconds)}"
        )

    def show_speed(self, images_per_s: float) -> None:
        self.speed_label.setText(f"{images_per_s:,.0f} img/s")

    def show_eta(self, seconds: float | None) -> None:
        """Time left (infinite or NaN: unknown); None clears the field."""
        self.eta_label.setText("" if seconds is None else f"ETA {format_duration(seconds, '--')}")

    def show_memory(self, used: int | None) -> None:
        """Device bytes in use; None clears the field."""
        self.memory_label.setText("" if used is None else f"{used / 2**20:,.0f} MiB on device")

    def show_augment(self, p: float | None) -> None:
        """The adaptive augmentation's probability; None (augmentation not adaptive) clears
        the field."""
        self.augment_label.setText("" if p is None else f"augment p {p:.3f}")
