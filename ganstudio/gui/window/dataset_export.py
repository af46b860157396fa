"""File > Export dataset...: the opened model's pictures written as a labelled dataset folder
(core.explore.dataset_export) in a background thread, with a progress dialog that shows
the time left and can cancel (the folder then holds the pictures written so far, listed in
its manifest.json)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.durations import format_duration
from ganstudio.gui.threads import Task, TaskGroup
from ganstudio.gui.widgets.banner import Banner
from ganstudio.gui.window.latest import Latest

if TYPE_CHECKING:
    from ganstudio.core.explore.dataset_export import DatasetPlan, DatasetResult
    from ganstudio.core.modelfile import GeneratorFile

MAX_PICTURES = 100_000  # core.explore.dataset_export.MAX_PICTURES


@dataclass(frozen=True)
class DatasetRequest:
    """What the user asked for in the dialog."""

    folder: str
    n: int | None  # pictures in all (unconditional models)
    per_class: int | None  # pictures of each class (models with classes)
    truncation: float
    seed: int


class DatasetDialog(QDialog):
    """Folder, how many pictures (in all, or per class), truncation and first seed."""

    def __init__(
        self, parent: QWidget, classes: tuple[str, ...], folder: str, truncation: float
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export dataset")
        self.classes = classes
        self.folder = QLineEdit(folder)
        self.folder.setMinimumWidth(320)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.count = QSpinBox()
        self.count.setRange(1, MAX_PICTURES if not classes else MAX_PICTURES // len(classes))
        self.count.setValue(1000 if not classes else max(1, min(100, self.count.maximum())))
        self.count.setGroupSeparatorShown(True)
        self.truncation = QDoubleSpinBox()
        self.truncation.setRange(0.05, 1.0)
        self.truncation.setSingleStep(0.05)
        self.truncation.setValue(truncation)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Pictures per class" if classes else "Pictures", self.count)
        form.addRow("Truncation (psi)", self.truncation)
        form.addRow("First seed", self.seed)
        shown = ", ".join(classes[:6]) + (" ..." if len(classes) > 6 else "")
        note = QLabel(
            f"One subfolder per class ({shown})"
            if classes
            else "The model has no classes: the pictures go into the folder itself."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export the dataset into", self.folder.text())
        if path:
            self.folder.setText(path)

    def request(self) -> DatasetRequest:
        n = self.count.value()
        return DatasetRequest(
            folder=self.folder.text().strip(),
            n=None if self.classes else n,
            per_class=n if self.classes else None,
            truncation=round(self.truncation.value(), 4),
            seed=self.seed.value(),
        )


class DatasetExporter(QObject):
    """Exports the ``latest`` opened model's pictures as a dataset (dialogs over ``parent``);
    problems go to the ``banner``, the outcome to the ``status`` bar. ``exported(result)``
    says a complete export was written (core.explore.dataset_export.DatasetResult).

    ``ask(classes, folder, psi)`` and ``confirm_overwrite(folder)`` are the dialogs; tests
    replace them."""

    exported = Signal(object)

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        latest: Latest,
        tasks: TaskGroup,
        banner: Banner,
        status: QStatusBar,
        truncation: Callable[[], float],
    ) -> None:
        super().__init__(parent)
        self.window = parent
        self.settings = settings
        self.latest = latest
        self.tasks = tasks
        self.banner = banner
        self.status = status
        self.truncation = truncation
        self.ask: Callable[[tuple[str, ...], str, float], DatasetRequest | None] = self._ask
        self.confirm_overwrite: Callable[[Path], bool] = self._confirm
        self.task: Task | None = None
        self.progress: QProgressDialog | None = None
        self._started = 0.0
        self._folder: Path | None = None

    def _ask(self, classes: tuple[str, ...], folder: str, psi: float) -> DatasetRequest | None:
        dialog = DatasetDialog(self.window, classes, folder, psi)
        try:
            return dialog.request() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()  # the window owns it: without this every opening stays

    def _confirm(self, folder: Path) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Export dataset",
            f"{folder} is not empty. Write the dataset into it?\n\nThe pictures of an earlier "
            "dataset export there are replaced; other files are kept (and load with the "
            "dataset).",
        )
        return answer == QMessageBox.StandardButton.Yes

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def export_dataset(self, request: DatasetRequest | None = None) -> None:
        """Ask (unless ``request`` is given), check, confirm a non-empty folder, then write."""
        opened = self.latest.opened_model
        if opened is None:
            self.banner.show_message(
                "Open a model first (File > Open model...): the dataset is drawn from it. "
                "A model being trained: save it (File > Save model...) and open it.",
                "warning",
            )
            return
        if self.running:
            self.banner.show_message("A dataset is being exported already.", "warning")
            return
        gen = opened.generator
        from ganstudio.core.explore.dataset_export import (
            DatasetExportError,
            model_classes,
            plan_export,
        )

        if request is None:
            last = str(self.settings.value("dataset_export_folder", ""))
            default = last or str(Path(opened.path).parent / f"{Path(opened.path).stem}-dataset")
            request = self.ask(model_classes(gen), default, self.truncation())
            if request is None:
                return
        if not request.folder:
            self.banner.show_message("Choose a folder for the dataset.", "error")
            return
        folder = Path(request.folder).expanduser()
        overwrite = False
        if folder.is_dir() and any(folder.iterdir()):
            if not self.confirm_overwrite(folder):
                return
            overwrite = True
        try:
            plan = plan_export(
                gen,
                folder,
                n=request.n,
                per_class=request.per_class,
                truncation=request.truncation,
                seed=request.seed,
                overwrite=overwrite,
            )
        except DatasetExportError as exc:
            self.banner.show_message(f"Cannot export the dataset: {exc}", "error")
            return
        self.settings.setValue("dataset_export_folder", str(folder))
        self._start(gen, plan)

    def _start(self, gen: GeneratorFile, plan: DatasetPlan) -> None:
        def work(progress: Callable[[int, int], None]) -> DatasetResult:
            from ganstudio.core.explore.dataset_export import export_dataset

            return export_dataset(gen, plan, progress)

        dialog = QProgressDialog(
            f"Writing {plan.total:,} pictures to {plan.folder} ...",
            "Cancel",
            0,
            plan.total,
            self.window,
        )
        dialog.setWindowTitle("Export dataset")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(lambda: self.cancel())
        self.progress = dialog
        self._folder = plan.folder
        self._started = time.monotonic()
        self.status.showMessage(f"Exporting {plan.total:,} pictures to {plan.folder} ...")
        self.task = self.tasks.run(
            work,
            "export dataset",
            self._on_done,
            self._on_failed,
            lambda done, total: self._on_progress(plan, done, total),
        )
        dialog.show()

    def _on_progress(self, plan: DatasetPlan, done: int, total: int) -> None:
        dialog = self.progress
        if dialog is None:
            return
        elapsed = time.monotonic() - self._started
        left = elapsed / done * (total - done) if done else float("inf")
        dialog.setMaximum(max(1, total))
        dialog.setValue(done)
        dialog.setLabelText(
            f"Writing pictures to {plan.folder}: {done:,} of {total:,}, "
            f"{format_duration(elapsed)} so far, about {format_duration(left)} left"
        )

    def cancel(self) -> None:
        """Stop after the pictures being drawn; the manifest lists what was written."""
        if self.task is None:
            return
        self.task.cancel()
        self.task = None
        self._close_progress()
        where = f" {self._folder / 'manifest.json'}" if self._folder is not None else ""
        self.status.showMessage(
            f"Dataset export cancelled: the pictures written are listed in{where}", 15000
        )

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect()
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _on_done(self, result: DatasetResult) -> None:
        self._close_progress()
        self.task = None
        self.status.showMessage(
            f"Wrote {result.written:,} pictures and {result.manifest_path}", 15000
        )
        self.exported.emit(result)

    def _on_failed(self, message: str) -> None:
        self._close_progress()
        self.task = None
        self.status.clearMessage()
        self.banner.show_message(f"The dataset export stopped: {message}", "error")
