"""The explorer: navigate a generator's latent space, interpolate, browse and export.

It works on an opened model file or on the run being trained (the newest snapshot, as
training goes). Pictures are rendered in the render thread (newest request wins); the latent
maths is core's (ganstudio.core.explore.latent, latent_state, exports).
"""

from __future__ import annotations

import logging
import random

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ganstudio.gui.explore.files import ExplorerFiles
from ganstudio.gui.explore.render_thread import Renderer, RenderResult
from ganstudio.gui.explore.results import ExplorerResults
from ganstudio.gui.explore.tabs import BrowseTab, InterpolateTab
from ganstudio.gui.explore.widgets import SliderRow
from ganstudio.gui.widgets.samples_view import ImageView, PointsView

log = logging.getLogger(__name__)

LATENT_SLIDERS = 8  # sliders for the first latent dimensions
PCA_SLIDERS = 8  # sliders along principal directions


class ExplorerPanel(ExplorerResults, ExplorerFiles, QWidget):
    """``message(text, kind)`` asks the window to show a banner."""

    message = Signal(str, str)
    pca_ready = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.renderer = Renderer(self)
        self.renderer.rendered.connect(self._on_rendered)
        self.renderer.failed.connect(lambda m: self.message.emit(f"Rendering failed: {m}", "error"))
        self.state = None  # core LatentState once a generator is known
        self.meta: dict = {}
        self.source_kind = ""  # "model" | "run"
        self.is_image = True
        self.generator = None  # the GeneratorFile or Snapshot being explored
        self.shown: dict[str, RenderResult] = {}  # newest result shown per purpose
        self._pca_task = None
        self._waiting_snapshot = None
        self._pca_stdev = np.ones(PCA_SLIDERS, np.float32)
        self.path_images: np.ndarray | None = None
        self.grid_images: np.ndarray | None = None
        self.path_vectors: np.ndarray | None = None
        self._build()
        self.setEnabled(False)

    # ---------------------------------------------------------------------------------
    # Layout

    def _build(self) -> None:
        self.source_label = QLabel("Open a model (File > Open model...) or start training.")
        self.source_label.setWordWrap(True)
        self.follow = QCheckBox("Follow the training run")
        self.follow.setChecked(True)
        self.follow.setToolTip("Explore the newest snapshot of the run as training goes")

        nav = QGroupBox("Navigate")
        nv = QVBoxLayout(nav)
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        prev_b, next_b, rand_b = QPushButton("<"), QPushButton(">"), QPushButton("Random")
        prev_b.setToolTip("Previous seed")
        next_b.setToolTip("Next seed")
        prev_b.clicked.connect(lambda: self.seed.setValue(max(0, self.seed.value() - 1)))
        next_b.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))
        rand_b.clicked.connect(lambda: self.seed.setValue(random.randrange(2**31 - 1)))
        for w in (self.seed, prev_b, next_b, rand_b):
            seed_row.addWidget(w)
        nv.addLayout(seed_row)
        psi_row = QHBoxLayout()
        self.psi = QSlider(Qt.Orientation.Horizontal)
        self.psi.setRange(5, 100)
        self.psi.setValue(100)
        self.psi_label = QLabel("psi 1.00")
        self.psi.setToolTip(
            "Truncation: pull the latent towards the average (less variety, more typical)"
        )
        psi_row.addWidget(QLabel("Truncation"))
        psi_row.addWidget(self.psi, 1)
        psi_row.addWidget(self.psi_label)
        nv.addLayout(psi_row)
        self.dim_rows = [SliderRow(f"z[{i}]") for i in range(LATENT_SLIDERS)]
        dims = QGroupBox("Latent dimensions")
        dl = QVBoxLayout(dims)
        for i, row in enumerate(self.dim_rows):
            row.moved.connect(lambda v, i=i: self._set_offset(i, v))
            dl.addWidget(row)
        self.pca_box = QGroupBox("Principal directions (GANSpace)")
        pl = QVBoxLayout(self.pca_box)
        self.pca_status = QLabel("computed when a model is opened")
        pl.addWidget(self.pca_status)
        self.pca_rows = [SliderRow(f"PC{i + 1}") for i in range(PCA_SLIDERS)]
        for i, row in enumerate(self.pca_rows):
            row.moved.connect(lambda v, i=i: self._set_amount(i, v))
            row.setEnabled(False)
            pl.addWidget(row)
        buttons = QHBoxLayout()
        reset_all = QPushButton("Reset all")
        reset_all.clicked.connect(self.reset_sliders)
        self.save_vector_button = QPushButton("Save vector...")
        self.load_vector_button = QPushButton("Load vector...")
        self.open_export_button = QPushButton("Open export...")
        self.open_export_button.setToolTip("Restore the view a grid or animation was made from")
        for b in (reset_all, self.save_vector_button, self.load_vector_button):
            buttons.addWidget(b)
        self.save_vector_button.clicked.connect(lambda: self.save_vector())
        self.load_vector_button.clicked.connect(lambda: self.load_vector())
        self.open_export_button.clicked.connect(lambda: self.open_export())
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.addWidget(self.source_label)
        cl.addWidget(self.follow)
        cl.addWidget(nav)
        cl.addWidget(dims)
        cl.addWidget(self.pca_box)
        cl.addLayout(buttons)
        cl.addWidget(self.open_export_button)
        cl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
        scroll.setMinimumWidth(330)

        self.view = ImageView()
        self.points = PointsView()
        self.caption = QLabel("")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        big = QWidget()
        bl = QVBoxLayout(big)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.view, 1)
        bl.addWidget(self.points, 1)
        bl.addWidget(self.caption)
        self.points.hide()

        self.interpolate = InterpolateTab()
        self.browse = BrowseTab()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.browse, "Browse")
        self.tabs.addTab(self.interpolate, "Interpolate")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(big)
        right.addWidget(self.tabs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        self.seed.valueChanged.connect(self._seed_changed)
        self.psi.valueChanged.connect(self._psi_changed)
        self.browse.changed.connect(self.render_grid)
        self.browse.view.activated.connect(self._grid_activated)
        self.interpolate.changed.connect(self.render_path)
        self.interpolate.add_current.connect(self._add_current_key)
        self.interpolate.add_seed.connect(self._add_seed_key)
        self.interpolate.add_selected.connect(self._add_selected_key)
        self.interpolate.frame.connect(self._show_frame)
        self.browse.export_clicked.connect(lambda: self.export_grid())
        self.interpolate.export_clicked.connect(lambda: self.export_animation())
        self._path_debounce = QTimer(self, singleShot=True, interval=80)
        self._path_debounce.timeout.connect(self._render_path_now)

    # ---------------------------------------------------------------------------------
    # Sources

    def set_model(self, opened) -> None:
        """Explore an opened model file (engine.OpenedModel)."""
        self.follow.setChecked(False)
        self._set_source(opened.generator, opened.meta, "model", opened.generator.is_image)
        self.source_label.setText(f"Model: {opened.path}")

    def set_snapshot(self, snapshot, meta: dict) -> None:
        """A new snapshot of the run being trained; used when following the run.

        While the explorer is hidden (the Train tab is showing) the newest snapshot only
        waits here: rendering it would take CPU from training for nothing on screen.
        """
        if not self.follow.isChecked() and self.source_kind == "model":
            return
        if not self.isVisible():
            self._waiting_snapshot = (snapshot, meta)
            return
        self._waiting_snapshot = None
        first = self.source_kind != "run" or self.state is None
        is_image = meta.get("dataset", {}).get("kind") == "images"
        self._set_source(snapshot, meta | {"step": snapshot.step}, "run", is_image, keep=not first)
        self.source_label.setText(f"Training run: snapshot at step {snapshot.step:,}")

    def _set_source(self, generator, meta: dict, kind: str, is_image: bool, keep=False) -> None:
        from ganstudio.core.explore.latent_state import LatentState

        dim = int(generator.spec.kwargs["latent_dim"])
        self.generator, self.meta, self.source_kind, self.is_image = generator, meta, kind, is_image
        self.renderer.set_generator(generator)
        if not keep or self.state is None or self.state.dim != dim:
            self.state = LatentState(dim)
            self.interpolate.clear()
            self._seed_changed(self.seed.value())
            self.compute_directions()
        self.view.setVisible(is_image)
        self.points.setVisible(not is_image)
        if not is_image:
            modes = meta.get("dataset", {}).get("modes") or ()
            self.points.set_real(None, modes)
        self.setEnabled(True)
        self.render_all()

    # ---------------------------------------------------------------------------------
    # Navigation

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._waiting_snapshot is not None:
            self.set_snapshot(*self._waiting_snapshot)

    def _seed_changed(self, seed: int) -> None:
        if self.state is None:
            return
        from ganstudio.core.explore.latent import seed_vector

        self.state.set_base(seed_vector(seed, self.state.dim), seed)
        self.render_current()
        if self.browse.source.currentData() == "neighbours":
            self.render_grid()

    def _psi_changed(self, value: int) -> None:
        self.psi_label.setText(f"psi {value / 100:.2f}")
        if self.state is not None:
            self.state.psi = value / 100
            self.render_all()

    def _set_offset(self, index: int, value: float) -> None:
        if self.state is not None and index < self.state.dim:
            self.state.set_offset(index, value)
            self.render_current()

    def _set_amount(self, index: int, value: float) -> None:
        if self.state is not None and index < len(self.state.amounts):
            self.state.set_amount(index, value * float(self._pca_stdev[index]))
            self.render_current()

    def reset_sliders(self) -> None:
        for row in self.dim_rows + self.pca_rows:
            row.set_value(0.0)
        if self.state is not None:
            self.state.reset()
            self.render_current()

    def set_vector(self, z: np.ndarray, seed: int | None = None, psi: float | None = None) -> None:
        """Make ``z`` (before truncation) the current sample."""
        if psi is not None:
            self.psi.blockSignals(True)
            self.psi.setValue(int(round(psi * 100)))
            self.psi.blockSignals(False)
            self.psi_label.setText(f"psi {psi:.2f}")
            self.state.psi = psi
        for row in self.dim_rows + self.pca_rows:
            row.set_value(0.0)
        self.state.reset()
        self.state.set_base(z, seed)
        self.render_all()

    # ---------------------------------------------------------------------------------
    # Principal directions, computed in the background

    def compute_directions(self) -> None:
        from ganstudio.gui.threads import Task

        for row in self.pca_rows:
            row.setEnabled(False)
            row.set_value(0.0)
        if self.generator is None:
            return
        self.pca_status.setText("computing ...")
        generator = self.generator

        def work(progress):
            from ganstudio.core.explore.latent import pca_directions
            from ganstudio.gui.explore.render_thread import _build

            module, _ = _build(generator)
            return pca_directions(module, k=PCA_SLIDERS, n_samples=2000, seed=0)

        if self._pca_task is not None:
            self._pca_task.cancel()
        self._pca_task = Task(work, "directions", self)
        self._pca_task.done.connect(self._on_directions)
        self._pca_task.failed.connect(lambda m: self.pca_status.setText(f"not available: {m}"))
        self._pca_task.start()

    def _on_directions(self, directions) -> None:
        if self.state is None or directions.vectors.shape[1] != self.state.dim:
            return
        self.state.set_directions(directions.vectors)
        self._pca_stdev = np.asarray(directions.stdev, np.float32)
        for i, row in enumerate(self.pca_rows):
            ok = i < len(directions.vectors)
            row.setEnabled(ok)
            if ok:
                row.setToolTip(f"{directions.explained[i]:.1%} of the first layer's variance")
        self.pca_status.setText(
            f"{len(directions.vectors)} directions; sliders move +-3 standard deviations"
        )
        self.pca_ready.emit()

    # ---------------------------------------------------------------------------------
    # Rendering requests and results

    def render_all(self) -> None:
        self.render_current()
        self.render_grid()
        self.render_path()

    def render_current(self) -> None:
        if self.state is not None:
            self.renderer.request("current", self.state.current()[None])

    def grid_vectors(self) -> np.ndarray:
        from ganstudio.core.explore.latent import neighbours, seed_vectors

        n = self.browse.rows.value() * self.browse.cols.value()
        source = self.browse.source.currentData()
        if source == "vectors" and self.browse.fixed_vectors is not None:
            self.browse.seeds = None
            fixed = self.browse.fixed_vectors
            if len(fixed) != n:
                self.browse.rows.blockSignals(True)
                self.browse.cols.blockSignals(True)
                self.browse.cols.setValue(min(16, len(fixed)))
                self.browse.rows.setValue(-(-len(fixed) // self.browse.cols.value()))
                self.browse.rows.blockSignals(False)
                self.browse.cols.blockSignals(False)
            return np.asarray(fixed, np.float32)
        if source == "seeds":
            self.browse.seeds = list(
                range(self.browse.start_seed.value(), self.browse.start_seed.value() + n)
            )
            z = seed_vectors(self.browse.start_seed.value(), n, self.state.dim)
        else:
            self.browse.seeds = None
            spread = self.browse.spread.value() / 100
            z = neighbours(self.state.edited(), n, spread, self.browse.neighbour_seed)
        return np.asarray(z, np.float32)

    def render_grid(self) -> None:
        """Vectors are kept before truncation (as exports store them); psi applies here."""
        if self.state is not None:
            from ganstudio.core.explore.latent import truncate

            z = self.grid_vectors()
            self.browse.vectors = z
            self.renderer.request("grid", truncate(z, self.state.psi))

    def render_path(self) -> None:
        self._path_debounce.start()

    def _render_path_now(self) -> None:
        keys = self.interpolate.keys
        if self.state is None or len(keys) == 0:
            self.interpolate.keys_view.set_picture(None)
            self.interpolate.path_view.set_picture(None)
            self.interpolate.set_path_frames(0)
            return
        from ganstudio.core.explore.latent import keyframe_path, truncate

        psi = self.state.psi
        self.renderer.request("keyframes", truncate(keys, psi))
        if len(keys) >= 2:  # the path between the keys, then truncated, as exports render it
            s = self.interpolate.settings()
            path = keyframe_path(keys, s["steps"], s["mode"], s["easing"], s["loop"])
            self.path_vectors = truncate(path, psi)
            self.renderer.request("path", self.path_vectors)

    # ---------------------------------------------------------------------------------
    # Keyframes and grid clicks

    def _add_current_key(self) -> None:
        if self.state is not None:  # keys are kept before truncation
            self.interpolate.add_key(self.state.edited(), self.state.seed)

    def _add_seed_key(self) -> None:
        if self.state is not None:
            from ganstudio.core.explore.latent import seed_vector

            self.interpolate.add_key(
                seed_vector(self.seed.value(), self.state.dim), self.seed.value()
            )

    def _add_selected_key(self) -> None:
        cell, z = self.browse.view.selection, self.browse.vectors
        if cell is None or z is None or cell >= len(z):
            self.message.emit("Select a sample in the Browse grid first.", "warning")
            return
        seeds = self.browse.seeds
        self.interpolate.add_key(z[cell], seeds[cell] if seeds is not None else None)

    def _grid_activated(self, cell: int) -> None:
        z = self.browse.vectors
        if z is None or cell >= len(z):
            return
        seeds = self.browse.seeds
        if seeds is not None:
            self.seed.setValue(seeds[cell])  # the seed box drives the current sample
            self.reset_sliders()
        else:  # a neighbour (vectors are kept before truncation)
            self.set_vector(z[cell], None)

    def close_renderer(self) -> None:
        self.renderer.close()
        if self._pca_task is not None:
            self._pca_task.cancel()
