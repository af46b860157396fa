"""The explorer: navigate a generator's latent space, interpolate, browse and export.

It works on an opened model file or on the run being trained (the newest snapshot, as
training goes). Pictures are rendered in the render thread (newest request wins); the latent
maths is core's (ganstudio.core.explore.latent, latent_state, exports).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.explore.latent_state import LatentState
from ganstudio.gui.explore.class_picker import ClassPicker, class_names_for
from ganstudio.gui.explore.files import ExplorerFiles
from ganstudio.gui.explore.projection import PictureDrops, ProjectionBox
from ganstudio.gui.explore.render_thread import Renderer, RenderResult
from ganstudio.gui.explore.results import ExplorerResults
from ganstudio.gui.explore.source import ExploredSource
from ganstudio.gui.explore.tabs import POINTS_ONLY_IMAGES, BrowseTab, InterpolateTab
from ganstudio.gui.explore.widgets import SliderRow
from ganstudio.gui.threads import Task
from ganstudio.gui.widgets.samples_view import ImageView, PointsView
from ganstudio.gui.widgets.scroll import VerticalScrollArea
from ganstudio.gui.widgets.tabs import StableTabWidget

if TYPE_CHECKING:
    from ganstudio.core.explore.latent import Directions
    from ganstudio.core.training.events import Snapshot
    from ganstudio.gui.engine import OpenedModel
    from ganstudio.gui.explore.source import ExploredGenerator

log = logging.getLogger(__name__)

LATENT_SLIDERS = 8  # sliders for the first latent dimensions
PCA_SLIDERS = 8  # sliders along principal directions


class ExplorerPanel(QWidget):
    """The Explore tab: the navigation controls, the big view and the Browse and Interpolate
    tabs, composed with a render thread (``renderer``), a presenter that draws its results
    (``results``) and the explorer's files (``files``), all sharing what is explored
    (``source``).

    ``message(text, kind)`` asks the window to show a banner; ``pca_ready`` says the
    principal-direction sliders work; ``picture_shown(RenderResult)`` follows each rendered
    result that was just drawn on screen.
    """

    message = Signal(str, str)
    pca_ready = Signal()
    picture_shown = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = ExploredSource()
        self.renderer = Renderer(self)
        self.renderer.rendered.connect(self._on_rendered)
        self.renderer.failed.connect(lambda m: self.message.emit(f"Rendering failed: {m}", "error"))
        self._pca_task: Task | None = None
        self._waiting_snapshot: tuple[Snapshot, dict[str, Any]] | None = None
        self._pca_stdev = np.ones(PCA_SLIDERS, np.float32)
        self.path_vectors: np.ndarray | None = None
        self._build()
        self.results = ExplorerResults(
            self.source,
            self.renderer,
            self.view,
            self.points,
            self.caption,
            self.browse,
            self.interpolate,
        )
        self.files = ExplorerFiles(
            dialog_parent=self,
            source=self.source,
            results=self.results,
            browse=self.browse,
            interpolate=self.interpolate,
            tabs=self.tabs,
            psi=self.psi,
            set_vector=self.set_vector,
            render_all=self.render_all,
            report=self.message.emit,
        )
        self.interpolate.frame.connect(self.results.show_frame)
        self.setEnabled(False)

    # ---------------------------------------------------------------------------------
    # What is explored and shown (read-only views of source and results)

    @property
    def state(self) -> LatentState | None:
        """The latent state once a generator is known."""
        return self.source.state

    @property
    def source_kind(self) -> str:
        """ "model", "run", or "" before anything is explored."""
        return self.source.kind

    @property
    def shown(self) -> dict[str, RenderResult]:
        """The newest result drawn per purpose."""
        return self.results.shown

    @property
    def grid_images(self) -> np.ndarray | None:
        return self.results.grid_images

    @property
    def path_images(self) -> np.ndarray | None:
        return self.results.path_images

    # ---------------------------------------------------------------------------------
    # The explorer's files (see ExplorerFiles)

    def save_vector(self, path: str | None = None) -> None:
        self.files.save_vector(path)

    def load_vector(self, path: str | None = None) -> None:
        self.files.load_vector(path)

    def export_grid(self, path: str | None = None) -> None:
        self.files.export_grid(path)

    def export_animation(self, path: str | None = None) -> None:
        self.files.export_animation(path)

    def open_export(self, path: str | None = None) -> None:
        """Restore the view an export was made from (vectors, truncation, settings)."""
        self.files.open_export(path)

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
        self.class_picker = ClassPicker(self.source)  # shown for a class-conditional model
        self.class_picker.changed.connect(self.render_all)
        nv.addWidget(self.class_picker)
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
        self.projection = ProjectionBox(
            self.source, self.set_vector, self._interpolate_between, self.message.emit
        )
        self._picture_drops = PictureDrops(self, self.projection)
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.addWidget(self.source_label)
        cl.addWidget(self.follow)
        cl.addWidget(nav)
        cl.addWidget(dims)
        cl.addWidget(self.pca_box)
        cl.addLayout(buttons)
        cl.addWidget(self.open_export_button)
        cl.addWidget(self.projection)
        cl.addStretch(1)
        scroll = VerticalScrollArea()  # never narrower than its controls need
        scroll.setWidget(controls)

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
        self.tabs = StableTabWidget()
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
        split.setChildrenCollapsible(False)  # dragging never cuts the controls
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
        self.browse.export_clicked.connect(lambda: self.export_grid())
        self.interpolate.export_clicked.connect(lambda: self.export_animation())
        self._path_debounce = QTimer(self, singleShot=True, interval=80)
        self._path_debounce.timeout.connect(self._render_path_now)

    # ---------------------------------------------------------------------------------
    # Sources

    def set_model(self, opened: OpenedModel) -> None:
        """Explore an opened model file."""
        generator = opened.generator
        self.follow.setChecked(False)
        self._set_source(generator, opened.meta, "model", generator.is_image)
        self.source_label.setText(f"Model: {opened.path}")

    def set_snapshot(self, snapshot: Snapshot, meta: dict[str, Any]) -> None:
        """A new snapshot of the run being trained; used when following the run.

        While the explorer is hidden (the Train tab is showing) the newest snapshot only
        waits here: rendering it would take CPU from training for nothing on screen.
        """
        if not self.follow.isChecked() and self.source.kind == "model":
            return
        if not self.isVisible():
            self._waiting_snapshot = (snapshot, meta)
            return
        self._waiting_snapshot = None
        first = self.source.kind != "run" or self.source.state is None
        is_image = meta.get("dataset", {}).get("kind") == "images"
        self._set_source(snapshot, meta | {"step": snapshot.step}, "run", is_image, keep=not first)
        self.source_label.setText(f"Training run: snapshot at step {snapshot.step:,}")

    def _set_source(
        self,
        generator: ExploredGenerator,
        meta: dict[str, Any],
        kind: str,
        is_image: bool,
        keep: bool = False,
    ) -> None:
        dim = int(generator.spec.kwargs["latent_dim"])
        source = self.source
        source.generator, source.meta = generator, meta
        source.kind, source.is_image = kind, is_image
        self.class_picker.set_classes(class_names_for(generator, meta))
        self.renderer.set_generator(generator)
        if not keep or source.state is None or source.state.dim != dim:
            source.state = LatentState(dim)
            self.projection.forget()
            self.interpolate.clear()
            self._seed_changed(self.seed.value())
            self.compute_directions()
        self.view.setVisible(is_image)
        self.points.setVisible(not is_image)
        self.browse.set_points(not is_image)
        # A path through the plane has no pictures to show or export.
        index = self.tabs.indexOf(self.interpolate)
        self.tabs.setTabEnabled(index, is_image)
        self.tabs.setTabToolTip(index, "" if is_image else POINTS_ONLY_IMAGES)
        if not is_image:
            modes = meta.get("dataset", {}).get("modes") or ()
            self.points.set_real(None, modes)
        self.setEnabled(True)
        self.render_all()

    # ---------------------------------------------------------------------------------
    # Navigation

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._waiting_snapshot is not None:
            self.set_snapshot(*self._waiting_snapshot)

    def _seed_changed(self, seed: int) -> None:
        state = self.source.state
        if state is None:
            return
        from ganstudio.core.explore.latent import seed_vector

        state.set_base(seed_vector(seed, state.dim), seed)
        self.render_current()
        if self.browse.source.currentData() == "neighbours":
            self.render_grid()

    def _psi_changed(self, value: int) -> None:
        self.psi_label.setText(f"psi {value / 100:.2f}")
        if self.source.state is not None:
            self.source.state.psi = value / 100
            self.render_all()

    def _set_offset(self, index: int, value: float) -> None:
        state = self.source.state
        if state is not None and index < state.dim:
            state.set_offset(index, value)
            self.render_current()

    def _set_amount(self, index: int, value: float) -> None:
        state = self.source.state
        if state is not None and index < len(state.amounts):
            state.set_amount(index, value * float(self._pca_stdev[index]))
            self.render_current()

    def reset_sliders(self) -> None:
        for row in self.dim_rows + self.pca_rows:
            row.set_value(0.0)
        if self.source.state is not None:
            self.source.state.reset()
            self.render_current()

    def set_vector(self, z: np.ndarray, seed: int | None = None, psi: float | None = None) -> None:
        """Make ``z`` (before truncation) the current sample."""
        state = self.source.require_state()
        if psi is not None:
            self.psi.blockSignals(True)
            self.psi.setValue(int(round(psi * 100)))
            self.psi.blockSignals(False)
            self.psi_label.setText(f"psi {psi:.2f}")
            state.psi = psi
        for row in self.dim_rows + self.pca_rows:
            row.set_value(0.0)
        state.reset()
        state.set_base(z, seed)
        self.render_all()

    # ---------------------------------------------------------------------------------
    # Principal directions, computed in the background

    def compute_directions(self) -> None:
        for row in self.pca_rows:
            row.setEnabled(False)
            row.set_value(0.0)
        generator = self.source.generator
        if generator is None:
            return
        self.pca_status.setText("computing ...")

        def work(progress: Callable[[int, int], None]) -> Directions:
            from ganstudio.core.explore.latent import pca_directions
            from ganstudio.core.explore.sampling import sampler_for

            module = sampler_for(generator).module
            return pca_directions(module, k=PCA_SLIDERS, n_samples=2000, seed=0)

        if self._pca_task is not None:
            self._pca_task.cancel()
        self._pca_task = Task(work, "directions", self)
        self._pca_task.done.connect(self._on_directions)
        self._pca_task.failed.connect(lambda m: self.pca_status.setText(f"not available: {m}"))
        self._pca_task.start()

    def _on_directions(self, directions: Directions) -> None:
        state = self.source.state
        if state is None or directions.vectors.shape[1] != state.dim:
            return
        state.set_directions(directions.vectors)
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

    def _on_rendered(self, result: RenderResult) -> None:
        if self.results.show(result):
            self.picture_shown.emit(result)

    def render_all(self) -> None:
        self.render_current()
        self.render_grid()
        self.render_path()

    def render_current(self) -> None:
        if self.source.state is not None:
            z = self.source.state.current()[None]
            self.renderer.request("current", z, **self.class_picker.request_args("current", 1))

    def grid_vectors(self) -> np.ndarray:
        from ganstudio.core.explore.latent import neighbours, seed_vectors

        state = self.source.require_state()
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
            z = seed_vectors(self.browse.start_seed.value(), n, state.dim)
        else:
            self.browse.seeds = None
            spread = self.browse.spread.value() / 100
            z = neighbours(state.edited(), n, spread, self.browse.neighbour_seed)
        return np.asarray(z, np.float32)

    def render_grid(self) -> None:
        """Vectors are kept before truncation (as exports store them); psi applies here."""
        state = self.source.state
        if state is not None:
            from ganstudio.core.explore.latent import truncate

            z = self.grid_vectors()
            self.browse.vectors = z
            classes = self.class_picker.request_args("grid", len(z), self.browse.cols.value())
            self.renderer.request("grid", truncate(z, state.psi), **classes)

    def render_path(self) -> None:
        self._path_debounce.start()

    def _render_path_now(self) -> None:
        keys = self.interpolate.keys
        state = self.source.state
        if state is None or len(keys) == 0:
            self.interpolate.keys_view.set_picture(None)
            self.interpolate.path_view.set_picture(None)
            self.interpolate.set_path_frames(0)
            return
        from ganstudio.core.explore.latent import keyframe_path, truncate

        psi = state.psi
        classes = self.class_picker.request_args("keyframes", len(keys))
        self.renderer.request("keyframes", truncate(keys, psi), **classes)
        if len(keys) >= 2:  # the path between the keys, then truncated, as exports render it
            s = self.interpolate.settings()
            path = keyframe_path(keys, s["steps"], s["mode"], s["easing"], s["loop"])
            self.path_vectors = truncate(path, psi)
            classes = self.class_picker.request_args("path", len(path))
            self.renderer.request("path", self.path_vectors, **classes)

    # ---------------------------------------------------------------------------------
    # Keyframes and grid clicks

    def _add_current_key(self) -> None:
        state = self.source.state
        if state is not None:  # keys are kept before truncation
            self.interpolate.add_key(state.edited(), state.seed)

    def _add_seed_key(self) -> None:
        state = self.source.state
        if state is not None:
            from ganstudio.core.explore.latent import seed_vector

            self.interpolate.add_key(seed_vector(self.seed.value(), state.dim), self.seed.value())

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

    def _interpolate_between(self, keys: np.ndarray) -> None:
        """Make ``keys`` (K, D) the interpolation's keyframes and show the Interpolate tab."""
        self.interpolate.set_keys(keys, [None] * len(keys))
        self.tabs.setCurrentWidget(self.interpolate)

    def close_renderer(self) -> None:
        self.projection.close_worker()
        self.renderer.close()
        if self._pca_task is not None:
            self._pca_task.cancel()
