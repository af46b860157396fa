"""The set-up panel's dataset box: the list of built-in datasets and the user's pictures,
opening a folder or file, the preparation size and progress, a look at the data, its summary
or the error that stopped it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.choices import BUILTIN_DATASETS, DEFAULT_DATASET, PICTURE_SIZES
from ganstudio.gui.widgets.samples_view import ImageView, PointsView


class DatasetBox(QGroupBox):
    """Emits ``dataset_requested(spec)`` when another dataset is chosen, and
    ``open_folder_clicked`` / ``open_file_clicked`` for the window's file dialogs."""

    dataset_requested = Signal(str)
    open_folder_clicked = Signal()
    open_file_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Dataset", parent)
        v = QVBoxLayout(self)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("A built-in dataset, or pictures you opened")
        for name, label in BUILTIN_DATASETS.items():
            self.dataset_combo.addItem(label, f"builtin:{name}")
        v.addWidget(self.dataset_combo)
        row = QHBoxLayout()
        self.open_folder_button = QPushButton("Open folder...")
        self.open_file_button = QPushButton("Open file...")
        self.open_file_button.setToolTip(
            "A .zip/.tar archive, MNIST idx, CIFAR .bin or a .npy/.npz array"
        )
        row.addWidget(self.open_folder_button)
        row.addWidget(self.open_file_button)
        v.addLayout(row)
        self.size_combo = QComboBox()
        # auto: the size nearest the pictures', at most 64 px on the CPU and 256 px on a GPU
        self.size_combo.addItem("auto", None)
        for size in PICTURE_SIZES:
            self.size_combo.addItem(f"{size} px", size)
        self.size_combo.setToolTip(
            "auto: the size nearest the pictures' own, at most 64 px when training on the "
            "CPU and 256 px on a GPU (FastGAN from 64 px, DCGAN below)"
        )
        self.size_row = QWidget()
        srow = QHBoxLayout(self.size_row)
        srow.setContentsMargins(0, 0, 0, 0)
        srow.addWidget(QLabel("Prepare your pictures at"))
        srow.addWidget(self.size_combo)
        srow.addStretch(1)
        v.addWidget(self.size_row)
        self.size_row.setVisible(False)
        self.data_progress = QProgressBar()
        self.data_progress.setVisible(False)
        self.data_progress.setFormat("preparing %v / %m")
        v.addWidget(self.data_progress)
        self.data_images = ImageView()
        self.data_images.setMinimumSize(120, 120)
        self.data_points = PointsView(legend=False)
        self.data_points.setMinimumHeight(160)
        self.data_points.setMaximumHeight(220)
        self.data_images.setMaximumHeight(220)
        v.addWidget(self.data_images)
        v.addWidget(self.data_points)
        self.data_images.setVisible(False)
        self.data_points.setVisible(False)
        self.data_summary = QLabel("")
        self.data_summary.setWordWrap(True)
        self.data_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.data_summary)
        self.dataset_combo.currentIndexChanged.connect(self._dataset_changed)
        self.size_combo.currentIndexChanged.connect(self._dataset_changed)
        self.open_folder_button.clicked.connect(self.open_folder_clicked)
        self.open_file_button.clicked.connect(self.open_file_clicked)

    def dataset_spec(self) -> str:
        spec = self.dataset_combo.currentData() or DEFAULT_DATASET
        size = self.size_combo.currentData()
        if not spec.startswith("builtin:") and size is not None:
            spec = f"{spec}?size={size}"
        return spec

    def show_auto_size(self, size: int | None) -> None:
        """Show the size the automatic choice prepared the pictures at."""
        self.size_combo.setItemText(0, "auto" if size is None else f"auto: {size} px")

    def add_dataset_path(self, path: str, select: bool = True) -> None:
        """Add a folder/file of the user's to the list (once) and select it."""
        index = self.dataset_combo.findData(path)
        if index < 0:
            from pathlib import Path

            self.dataset_combo.addItem(f"{Path(path).name}  ({path})", path)
            index = self.dataset_combo.count() - 1
        if select:
            self.dataset_combo.setCurrentIndex(index)

    def select_dataset(self, spec: str, notify: bool = True) -> None:
        """Show ``spec`` as the chosen dataset (a folder or file of the user's is added to the
        list). ``notify`` False: the list's change does not emit ``dataset_requested`` (the
        window asks for the data itself once the engine starts)."""
        if not notify:
            self.dataset_combo.blockSignals(True)
        try:
            self._select(spec)
        finally:
            if not notify:
                self.dataset_combo.blockSignals(False)

    def _select(self, spec: str) -> None:
        base, _, query = spec.partition("?")
        if not base.startswith("builtin:"):
            self.add_dataset_path(base, select=False)
            size = None
            for part in query.split("&"):
                if part.startswith("size=") and part[5:].isdigit():
                    size = int(part[5:])
            self.size_combo.setCurrentIndex(max(self.size_combo.findData(size), 0))
        index = self.dataset_combo.findData(base)
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)

    def _dataset_changed(self) -> None:
        user = not str(self.dataset_combo.currentData()).startswith("builtin:")
        self.size_row.setVisible(user)
        self.dataset_requested.emit(self.dataset_spec())

    def show_dataset_loading(self, done: int, total: int) -> None:
        self.data_progress.setVisible(True)
        self.data_progress.setRange(0, max(total, 0))
        self.data_progress.setValue(done)
        if total <= 0:
            self.data_summary.setText("Preparing ...")

    def show_dataset(
        self,
        summary: str,
        picture: np.ndarray | None = None,
        points: np.ndarray | None = None,
        modes=(),
    ) -> None:
        self.data_progress.setVisible(False)
        self.data_summary.setText(summary)
        self.data_summary.setStyleSheet("")
        self.data_images.setVisible(picture is not None)
        self.data_points.setVisible(points is not None)
        if picture is not None:
            self.data_images.set_picture(picture)
        if points is not None:
            self.data_points.set_real(points, modes)

    def show_dataset_error(self, message: str) -> None:
        self.data_progress.setVisible(False)
        self.data_images.setVisible(False)
        self.data_points.setVisible(False)
        self.data_summary.setText(message)
        self.data_summary.setStyleSheet("color: #b00020;")

    def set_running(self, running: bool) -> None:
        """The data cannot change while a run trains on it."""
        for w in (
            self.dataset_combo,
            self.open_folder_button,
            self.open_file_button,
            self.size_combo,
        ):
            w.setEnabled(not running)
