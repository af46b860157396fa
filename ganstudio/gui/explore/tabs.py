"""The explorer's two lower tabs: Interpolate (keyframes, path, playback) and Browse (grid)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ganstudio.gui.explore.widgets import GridView
from ganstudio.gui.widgets.samples_view import ImageView

EASINGS = ("linear", "ease-in-out", "ease-in", "ease-out")
GRID_HINT = "Click a sample to select it, double-click to make it the current one."
POINTS_HINT = (
    "This model makes 2-D points: the grid's samples are the orange points in the plane "
    "above, the current sample is circled in red. New samples draws others."
)
POINTS_ONLY_IMAGES = "Grids and animations are for image models; this model makes 2-D points."


class InterpolateTab(QWidget):
    """Keyframes (a strip of thumbnails), the path settings, the path strip and playback.

    Emits ``changed`` when the path must be rendered again, ``frame(int)`` while playing.
    """

    changed = Signal()
    add_current = Signal()
    add_seed = Signal()
    add_selected = Signal()
    frame = Signal(int)
    export_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keys = np.zeros((0, 0), np.float32)  # (K, D) keyframe vectors (after truncation)
        self.key_seeds: list[int | None] = []
        self.keys_view = ImageView()
        self.keys_view.setMinimumHeight(70)
        self.keys_view.setMaximumHeight(90)
        self.path_view = ImageView()
        self.path_view.setMinimumHeight(70)
        self.path_view.setMaximumHeight(90)
        add = QPushButton("Add current")
        add.setToolTip("Add the current sample as the next keyframe")
        add_seed = QPushButton("Add seed")
        add_seed.setToolTip("Add the seed in the seed box as the next keyframe")
        add_cell = QPushButton("Add selected cell")
        add_cell.setToolTip("Add the sample selected in the Browse grid")
        add_cell.clicked.connect(self.add_selected)
        remove = QPushButton("Remove last")
        clear = QPushButton("Clear")
        add.clicked.connect(self.add_current)
        add_seed.clicked.connect(self.add_seed)
        remove.clicked.connect(self.remove_last)
        clear.clicked.connect(self.clear)
        self.mode = QComboBox()
        self.mode.addItem("spherical (slerp)", "slerp")
        self.mode.addItem("linear (lerp)", "lerp")
        self.steps = QSpinBox()
        self.steps.setRange(1, 500)
        self.steps.setValue(24)
        self.easing = QComboBox()
        for e in EASINGS:
            self.easing.addItem(e, e)
        self.loop = QCheckBox("Loop back to the first keyframe")
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(24)
        self.fps.setSuffix(" frames/s")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.export_button = QPushButton("Export animation...")
        self.export_button.clicked.connect(self.export_clicked)
        self.info = QLabel("Add two or more keyframes.")
        buttons = QHBoxLayout()
        for b in (add, add_seed, add_cell, remove, clear):
            buttons.addWidget(b)
        buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("Mode", self.mode)
        form.addRow("Steps between keyframes", self.steps)
        form.addRow("Easing", self.easing)
        form.addRow("", self.loop)
        form.addRow("Speed", self.fps)
        play_row = QHBoxLayout()
        play_row.addWidget(self.play_button)
        play_row.addWidget(self.export_button)
        play_row.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Keyframes"))
        layout.addWidget(self.keys_view)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(QLabel("Path"))
        layout.addWidget(self.path_view)
        layout.addLayout(play_row)
        for w in (self.mode, self.easing):
            w.currentIndexChanged.connect(self.changed)
        self.steps.valueChanged.connect(self.changed)
        self.loop.toggled.connect(self.changed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.fps.valueChanged.connect(lambda v: self._timer.setInterval(1000 // v))
        self.play_button.toggled.connect(self._play)
        self.frames = 0
        self._position = 0

    def add_key(self, z: np.ndarray, seed: int | None) -> None:
        z = np.asarray(z, np.float32).reshape(1, -1)
        self.keys = z if self.keys.size == 0 else np.concatenate([self.keys, z])
        self.key_seeds.append(seed)
        self.changed.emit()

    def set_keys(self, keys: np.ndarray, seeds: list[int | None]) -> None:
        self.keys = np.asarray(keys, np.float32)
        self.key_seeds = list(seeds)
        self.changed.emit()

    def remove_last(self) -> None:
        if len(self.keys):
            self.keys = self.keys[:-1]
            self.key_seeds = self.key_seeds[:-1]
            self.changed.emit()

    def clear(self) -> None:
        self.keys = np.zeros((0, 0), np.float32)
        self.key_seeds = []
        self.play_button.setChecked(False)
        self.changed.emit()

    def settings(self) -> dict:
        return {
            "mode": self.mode.currentData(),
            "steps": self.steps.value(),
            "easing": self.easing.currentData(),
            "loop": self.loop.isChecked(),
            "fps": self.fps.value(),
        }

    def apply_settings(self, d: dict) -> None:
        for combo, key in ((self.mode, "mode"), (self.easing, "easing")):
            i = combo.findData(d.get(key))
            if i >= 0:
                combo.setCurrentIndex(i)
        if isinstance(d.get("steps"), int):
            self.steps.setValue(d["steps"])
        if isinstance(d.get("fps"), (int, float)):
            self.fps.setValue(int(d["fps"]))
        self.loop.setChecked(bool(d.get("loop")))

    def set_path_frames(self, count: int) -> None:
        self.frames = count
        self._position = 0
        self.info.setText(f"{count} frames, {count / self.fps.value():.1f} s")

    def _play(self, on: bool) -> None:
        self.play_button.setText("Stop" if on else "Play")
        if on and self.frames:
            self._timer.setInterval(1000 // self.fps.value())
            self._timer.start()
        else:
            self._timer.stop()

    def _tick(self) -> None:
        if not self.frames:
            return
        self.frame.emit(self._position)
        self._position = (self._position + 1) % self.frames


class BrowseTab(QWidget):
    """A grid of R x C samples: random seeds, or neighbours of the current vector."""

    changed = Signal()
    export_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = GridView()
        self.rows = QSpinBox()
        self.cols = QSpinBox()
        for s, v in ((self.rows, 4), (self.cols, 6)):
            s.setRange(1, 16)
            s.setValue(v)
        self.source = QComboBox()
        self.source.addItem("Random seeds", "seeds")
        self.source.addItem("Neighbours of the current sample", "neighbours")
        self.source.addItem("Vectors from an opened export", "vectors")
        self.start_seed = QSpinBox()
        self.start_seed.setRange(0, 2**31 - 1)
        self.start_seed.setPrefix("from seed ")
        more = QPushButton("New samples")
        more.setToolTip("The next seeds (or new neighbours)")
        more.clicked.connect(self.advance)
        self.spread = QSlider(Qt.Orientation.Horizontal)
        self.spread.setRange(5, 150)
        self.spread.setValue(50)
        self.spread.setToolTip("How far neighbours are from the current sample")
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(25, 100)
        self.zoom.setValue(100)
        self.zoom.setToolTip("Zoom")
        self.padding = QSpinBox()
        self.padding.setRange(0, 32)
        self.padding.setValue(2)
        self.background = QLineEdit("202020")
        self.background.setMaxLength(7)
        self.background.setToolTip("Background colour of the exported grid, hex RRGGBB")
        self.upscale = QSpinBox()
        self.upscale.setRange(1, 8)
        self.upscale.setPrefix("x")
        export = self.export_button = QPushButton("Export grid...")
        export.clicked.connect(self.export_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Rows"))
        top.addWidget(self.rows)
        top.addWidget(QLabel("Columns"))
        top.addWidget(self.cols)
        top.addWidget(self.source)
        top.addWidget(self.start_seed)
        top.addWidget(more)
        top.addStretch(1)
        mid = QHBoxLayout()
        mid.addWidget(QLabel("Spread"))
        mid.addWidget(self.spread, 1)
        mid.addWidget(QLabel("Zoom"))
        mid.addWidget(self.zoom, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Export: padding"))
        bottom.addWidget(self.padding)
        bottom.addWidget(QLabel("background #"))
        bottom.addWidget(self.background)
        bottom.addWidget(QLabel("upscale"))
        bottom.addWidget(self.upscale)
        bottom.addWidget(export)
        bottom.addStretch(1)
        hint = self.hint = QLabel(GRID_HINT)
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = self._layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(mid)
        layout.addWidget(self.view, 1)
        layout.addWidget(hint)
        layout.addLayout(bottom)
        for s in (self.rows, self.cols, self.start_seed):
            s.valueChanged.connect(self.changed)
        self.source.currentIndexChanged.connect(self.changed)
        self.spread.sliderReleased.connect(self.changed)
        self.zoom.valueChanged.connect(self._zoom)
        self._neighbour_seed = 0
        self.vectors: np.ndarray | None = None  # what the grid shows (after truncation)
        self.fixed_vectors: np.ndarray | None = None  # restored from an export (before it)
        self.seeds: list[int] | None = None

    def set_points(self, points: bool) -> None:
        """A 2-D model's samples are points: the grid's samples are drawn in the plane
        above (the picture grid is hidden), and grids are exported for image models only."""
        self.view.setVisible(not points)
        self.hint.setText(POINTS_HINT if points else GRID_HINT)
        # the hint takes the grid view's room
        self._layout.setStretchFactor(self.hint, 1 if points else 0)
        controls = (self.zoom, self.padding, self.background, self.upscale, self.export_button)
        for control in controls:
            control.setEnabled(not points)
        self.export_button.setToolTip(POINTS_ONLY_IMAGES if points else "")

    def set_fixed(self, vectors: np.ndarray) -> None:
        """Show exactly these vectors (from an export) until another source is chosen."""
        self.fixed_vectors = np.asarray(vectors, np.float32)
        self.source.setCurrentIndex(self.source.findData("vectors"))

    def advance(self) -> None:
        if self.source.currentData() == "seeds":
            self.start_seed.setValue(
                self.start_seed.value() + self.rows.value() * self.cols.value()
            )
        else:
            self._neighbour_seed += 1
            self.changed.emit()

    @property
    def neighbour_seed(self) -> int:
        return self._neighbour_seed

    def background_rgb(self) -> tuple[int, int, int]:
        text = self.background.text().strip().lstrip("#")
        if len(text) != 6:
            raise ValueError(f"background colour must be 6 hex digits like 202020, not {text!r}")
        try:
            return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
        except ValueError:
            raise ValueError(f"background colour must be hex digits, not {text!r}") from None

    def _zoom(self, value: int) -> None:
        self.view.zoom = value / 100
        self.view.update()
