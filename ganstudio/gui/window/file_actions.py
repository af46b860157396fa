"""The File menu's work: choosing a dataset folder or file, opening and saving models,
exporting the samples on screen, and what a file dropped on the window does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QStatusBar, QTabWidget, QWidget

from ganstudio import __version__
from ganstudio.gui import engine
from ganstudio.gui.explore.panel import ExplorerPanel
from ganstudio.gui.threads import TaskGroup
from ganstudio.gui.train.dataset_box import DatasetBox
from ganstudio.gui.train.training import TrainingSession
from ganstudio.gui.widgets.banner import Banner
from ganstudio.gui.widgets.samples_view import SamplesView
from ganstudio.gui.window.latest import Latest
from ganstudio.gui.window.recent import RecentFiles

MODEL_FILTER = "GAN Studio models and checkpoints (*.safetensors);;All files (*)"


class FileActions(QObject):
    """Opens and saves files for the window ``parent`` (dialogs open over it).

    ``latest``: the run's and the opened model's newest state (this sets ``opened_model``);
    ``followed_preview()``: provenance of a followed run's picture when it is on screen.
    An opened model goes to the ``explorer`` (its tab made current) and the ``samples``
    view; ``model_opened`` says so afterwards. Nothing opens while ``session`` trains.
    """

    model_opened = Signal(object)  # engine.OpenedModel

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        session: TrainingSession,
        latest: Latest,
        dataset: DatasetBox,
        samples: SamplesView,
        explorer: ExplorerPanel,
        tabs: QTabWidget,
        banner: Banner,
        status: QStatusBar,
        recent: RecentFiles,
        tasks: TaskGroup,
        followed_preview: Callable[[], dict[str, str] | None],
    ) -> None:
        super().__init__(parent)
        self.window = parent
        self.settings = settings
        self.session = session
        self.latest = latest
        self.dataset = dataset
        self.samples = samples
        self.explorer = explorer
        self.tabs = tabs
        self.banner = banner
        self.status = status
        self.recent = recent
        self.tasks = tasks
        self.followed_preview = followed_preview

    # ---------------------------------------------------------------------------------
    # Datasets

    def _last_folder(self, default: str = "") -> str:
        return str(self.settings.value("last_folder", default))

    def _pick_save(self, title: str, name: str, filters: str) -> str:
        start = str(Path(self._last_folder(str(Path.home()))) / name)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filters)
        if path:
            self.settings.setValue("last_folder", str(Path(path).parent))
        return path

    def open_dataset_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.window, "Open a folder of pictures", self._last_folder()
        )
        if path:
            self.settings.setValue("last_folder", path)
            self.dataset.add_dataset_path(path)

    def open_dataset_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            "Open a dataset file",
            self._last_folder(),
            "Datasets (*.zip *.tar *.tgz *.gz *.bz2 *.xz *.npy *.npz *.bin *idx*-ubyte*);;"
            "All files (*)",
        )
        if path:
            self.settings.setValue("last_folder", str(Path(path).parent))
            self.dataset.add_dataset_path(path)

    # ---------------------------------------------------------------------------------
    # Models

    def open_model(self, path: str | None = None) -> None:
        """Open a model file (asks for one when ``path`` is None) in a background thread."""
        if self.session.active:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Open a model", self._last_folder(), MODEL_FILTER
            )
        if not path:
            return
        self.status.showMessage(f"Opening {path} ...")
        self.tasks.run(
            engine.open_model_task(str(path)),
            "open model",
            self._on_model_opened,
            self._on_model_failed,
        )

    def _on_model_opened(self, opened: engine.OpenedModel) -> None:
        self.latest.opened_model = opened
        self.latest.snapshot = None
        self.explorer.set_model(opened)
        self.tabs.setCurrentWidget(self.explorer)
        meta = opened.meta
        name = Path(opened.path).name
        dataset = meta.get("dataset", {}).get("name", "?")
        step = meta.get("step")
        title = f"{name}: step {step:,} on {dataset}" if isinstance(step, int) else name
        caption = f"Seed 0. Model hash {meta.get('content_hash')}"
        if opened.picture is not None:
            self.samples.show_images(opened.picture, title, caption)
        elif opened.points is not None:
            modes = meta.get("dataset", {}).get("modes") or ()
            self.samples.set_real_points(None, modes)
            self.samples.show_points(opened.points, title, caption)
        self.recent.add("model", opened.path)
        self.status.showMessage(f"Opened {opened.path}", 5000)
        self.model_opened.emit(opened)

    def _on_model_failed(self, message: str) -> None:
        self.banner.show_message(f"Could not open the model: {message}", "error")
        self.status.clearMessage()

    def save_model(self, path: str | None = None) -> None:
        """Save the training run's newest weights, else the opened model, as a model file."""
        latest = self.latest
        if latest.snapshot is None and latest.opened_model is None:
            return
        if not path:
            path = self._pick_save("Save model", "generator.safetensors", MODEL_FILTER)
        if not path:
            return
        try:
            if latest.snapshot is not None and latest.started is not None:
                engine.save_snapshot(path, latest.snapshot, latest.started.model_meta)
            elif latest.opened_model is not None:
                engine.save_opened_model(path, latest.opened_model)
            else:
                return
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not save the model to {path}: {exc}", "error")
            return
        self.recent.add("model", path)
        self.status.showMessage(f"Saved {path}", 5000)

    # ---------------------------------------------------------------------------------
    # Pictures

    def export_grid(self, path: str | None = None) -> None:
        """Save the samples on screen as a PNG, with where they came from in its text."""
        picture = self.samples.picture()
        if picture is None:
            return
        if not path:
            path = self._pick_save("Export grid", "samples.png", "PNG pictures (*.png)")
        if not path:
            return
        provenance = {"ganstudio.app_version": __version__}
        followed = self.followed_preview()
        latest = self.latest
        if followed is not None:
            provenance |= followed
        elif latest.opened_model is not None:
            provenance |= {
                "ganstudio.model_hash": str(latest.opened_model.meta.get("content_hash", "")),
                "ganstudio.seed": "0",
            }
        elif latest.preview is not None and latest.started is not None:
            provenance |= {
                "ganstudio.run": latest.started.run_folder,
                "ganstudio.step": str(latest.preview.step),
                "ganstudio.latents": "the run's fixed preview latents",
            }
        try:
            engine.save_picture(path, picture, provenance)
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not export to {path}: {exc}", "error")
            return
        self.status.showMessage(f"Exported {path}", 5000)

    # ---------------------------------------------------------------------------------
    # Dropped files

    def drop_path(self, path: str) -> None:
        """A dropped model file opens; a folder, archive or dataset file becomes the dataset."""
        if self.session.active:
            return
        if path.lower().endswith(".safetensors"):
            self.open_model(path)
        else:
            self.dataset.add_dataset_path(path)
