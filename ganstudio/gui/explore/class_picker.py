"""The explorer's class picker, for a class-conditional model: which class the current
sample, the grid and the interpolation draw, a blend towards a second class at the same
latent (mixing the two class embeddings), and a grid with one row per class.

Hidden for an unconditional model. It writes the classes it hands out for the grid and the
interpolation into the explored source (``drawn_classes``), so exports record them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ganstudio.gui.explore.source import ExploredSource

if TYPE_CHECKING:
    from ganstudio.gui.explore.source import ExploredGenerator


def class_names_for(generator: ExploredGenerator, meta: dict[str, Any]) -> tuple[str, ...]:
    """The class names of a model file or snapshot (its spec's "classes" counts them);
    () for an unconditional generator."""
    from ganstudio.core.modelfile import class_names_of

    classes = int(generator.spec.kwargs.get("classes", 0) or 0)
    return class_names_of(meta, classes) if classes else ()


class ClassPicker(QWidget):
    """Class, blend to a second class, and a row per class in the grid. ``changed`` follows
    every change."""

    changed = Signal()

    def __init__(self, source: ExploredSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.names: tuple[str, ...] = ()
        self.combo = QComboBox()
        self.combo.setToolTip("The class the model draws (a class-conditional model)")
        self.rows = QCheckBox("Grid: a row per class")
        self.rows.setToolTip("The Browse grid draws one class per row, cycling the classes")
        self.blend_to = QComboBox()
        self.blend_to.setToolTip("A second class to blend towards, at the same latent")
        self.blend = QSlider(Qt.Orientation.Horizontal)
        self.blend.setRange(0, 100)
        self.blend.setToolTip("How far the current sample is blended towards the second class")
        self.blend_label = QLabel("0%")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Class"))
        top.addWidget(self.combo, 1)
        top.addWidget(self.rows)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(QLabel("Blend to"))
        bottom.addWidget(self.blend_to, 1)
        bottom.addWidget(self.blend, 1)
        bottom.addWidget(self.blend_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.combo.currentIndexChanged.connect(self._changed)
        self.blend_to.currentIndexChanged.connect(self._changed)
        self.rows.toggled.connect(self._changed)
        self.blend.valueChanged.connect(self._changed)
        self.hide()

    def set_classes(self, names: tuple[str, ...]) -> None:
        """Offer these classes (keeping the choice when they are the same); none hides it."""
        if tuple(names) == self.names:
            return
        self.names = tuple(names)
        for combo in (self.combo, self.blend_to):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(self.names))
            combo.blockSignals(False)
        self.blend.blockSignals(True)
        self.blend.setValue(0)
        self.blend.blockSignals(False)
        self.blend_label.setText("0%")
        self.setVisible(bool(self.names))

    @property
    def current_class(self) -> int:
        return max(0, self.combo.currentIndex())

    def set_class(self, index: int) -> None:
        self.combo.setCurrentIndex(index)

    def weights(self) -> np.ndarray:
        """The current sample's class mixture: float32 (classes,), summing to 1."""
        w = np.zeros(len(self.names), np.float32)
        t = self.blend.value() / 100
        w[self.current_class] += 1 - t
        w[max(0, self.blend_to.currentIndex())] += t
        return w

    def grid_classes(self, n: int, cols: int) -> list[int]:
        """The class of each of n grid cells, row by row."""
        if self.rows.isChecked():
            return [(i // max(1, cols)) % len(self.names) for i in range(n)]
        return [self.current_class] * n

    def request_args(self, purpose: str, n: int, cols: int = 1) -> dict[str, np.ndarray]:
        """The class arguments of a render request of n latents (Renderer.request); {} for
        an unconditional model. The grid's and the interpolation's classes are kept in the
        source's ``drawn_classes`` for exports."""
        if not self.names:
            self.source.drawn_classes = {}
            return {}
        if purpose == "current":
            return {"class_weights": np.repeat(self.weights()[None], n, axis=0)}
        classes = self.grid_classes(n, cols) if purpose == "grid" else [self.current_class] * n
        self.source.drawn_classes[purpose] = classes
        return {"classes": np.asarray(classes, np.int64)}

    def _changed(self) -> None:
        self.blend_label.setText(f"{self.blend.value()}%")
        self.changed.emit()
