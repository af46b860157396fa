"""Input fields that may be left on "auto" (the engine then picks the value)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QLineEdit, QSpinBox, QWidget


class NumberEdit(QLineEdit):
    """A float that may be left empty for "auto"; the placeholder shows the automatic value."""

    def __init__(self, minimum: float, maximum: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.minimum, self.maximum = minimum, maximum
        self.setPlaceholderText("auto")
        self.setClearButtonEnabled(True)

    def value(self) -> float | None:
        """The number, None when empty; ValueError with a sentence when it is not valid."""
        text = self.text().strip()
        if not text:
            return None
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not (math.isfinite(v) and self.minimum <= v <= self.maximum):
            raise ValueError(f"{text} is outside {self.minimum:g} to {self.maximum:g}")
        return v

    def set_value(self, v: float | None) -> None:
        self.setText("" if v is None else f"{v:g}")


class PairEdit(QLineEdit):
    """Two floats "b1, b2" (Adam betas), or empty for auto."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("auto")
        self.setClearButtonEnabled(True)

    def value(self) -> tuple[float, float] | None:
        text = self.text().strip()
        if not text:
            return None
        try:
            a, b = (float(x) for x in text.replace(";", ",").split(","))
        except ValueError:
            raise ValueError(f"betas take two numbers like 0.5, 0.999, not {text!r}") from None
        if not (0 <= a < 1 and 0 <= b < 1):
            raise ValueError("betas must be in [0, 1)")
        return a, b

    def set_value(self, v) -> None:
        self.setText("" if v is None else f"{v[0]:g}, {v[1]:g}")


def auto_spin(maximum: int, minimum_real: int = 1, step: int = 1) -> QSpinBox:
    s = QSpinBox()
    s.setRange(minimum_real - 1, maximum)
    s.setSingleStep(step)
    s.setSpecialValueText("auto")
    s.setValue(minimum_real - 1)
    s.setAccelerated(True)
    return s
