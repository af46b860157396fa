"""The File menu's work: choosing a dataset folder or file, opening and saving models,
exporting the samples on screen, and opening a path given to the window (dropped on it, or
`ganstudio FILE_OR_FOLDER`): a model, a run folder, an export or a dataset."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QStatusBar, QTabWidget, QWidget

from ganstudio import __version__
from ganstudio.core.choices import BUILTIN_DATASETS
from ganstudio.core.opening import BUILTIN_PREFIX, OpenPathError, classify
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
    ``followed_preview()``: provenance of a followed run's picture when it is on screen;
    ``follow_run(folder)`` shows a run folder (its curves, previews and newest model).
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
        follow_run: Callable[[str], object],
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
        self.follow_run = follow_run
        self._pending_export: str | None = None  # restored once its model has opened

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
        self._show_opened_model(opened)
        export, self._pending_export = self._pending_export, None
        if export is not None:
            self.explorer.open_export(export)

    def _show_opened_model(self, opened: engine.OpenedModel) -> None:
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
        self._pending_export = None
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
    # Opening a path: dropped on the window, or given on the command line

    def drop_path(self, path: str) -> None:
        """A file or folder dropped on the window opens as open_path says."""
        self.open_path(path)

    def open_path(self, path: str, ignored: Sequence[str] = ()) -> None:
        """Open what ``path`` is (core.opening): a model file or checkpoint in the Explore
        tab, a run folder as a followed run, an export in the view it was made from, a
        dataset in the set-up panel. Anything else is an error in the banner. ``ignored``:
        further paths given at the same time (the window opens one at a time)."""
        if self.session.active:
            self.banner.show_message(
                f"Training is running: stop it before opening {Path(path).name}.", "warning"
            )
            return
        if path.startswith(BUILTIN_PREFIX):
            self._open_builtin(path, ignored)
            return
        try:
            opening = classify(path)
        except OpenPathError as exc:
            self.banner.show_message(f"Cannot open it: {exc}", "error")
            return
        if ignored:
            names = ", ".join(Path(p).name for p in ignored)
            self.banner.show_message(
                f"GAN Studio opens one file at a time: opened {opening.path.name}, not {names}.",
                "warning",
            )
        target = str(opening.path)
        if opening.kind == "model":
            self.open_model(target)
        elif opening.kind == "run":
            self.follow_run(target)
        elif opening.kind == "export":
            self.open_export(target)
        else:
            self.tabs.setCurrentIndex(0)  # the Train tab, where the set-up panel is
            self.dataset.add_dataset_path(target)

    def _open_builtin(self, spec: str, ignored: Sequence[str] = ()) -> None:
        """Select a built-in dataset given by name (``ganstudio builtin:digits``)."""
        names = [f"{BUILTIN_PREFIX}{name}" for name in BUILTIN_DATASETS]  # as the list offers
        if "?" in spec:
            self.banner.show_message(
                f"Cannot open {spec}: the window opens a built-in dataset by its name alone "
                f"({spec.partition('?')[0]}); its options are for ganstudio train --dataset.",
                "error",
            )
        elif spec not in names:
            self.banner.show_message(
                f"Cannot open {spec}: there is no such built-in dataset "
                f"(the built-in ones: {', '.join(names)}).",
                "error",
            )
        else:
            self.tabs.setCurrentIndex(0)  # the Train tab, where the set-up panel is
            self.dataset.select_dataset(spec)
            if ignored:
                others = ", ".join(Path(p).name for p in ignored)
                self.banner.show_message(
                    f"GAN Studio opens one file at a time: opened {spec}, not {others}.",
                    "warning",
                )

    def open_export(self, path: str) -> None:
        """Restore the view an export was made from. Its model is the opened one when the
        hashes agree; else a model file with its hash beside the export (or in the run
        folder it came from, or among the recent models) is opened first."""
        self.status.showMessage(f"Opening {path} ...")
        opened = self.latest.opened_model
        current = str(opened.meta.get("content_hash", "")) if opened is not None else None
        candidates = [*self._model_candidates(path), *self.recent.paths("model")]
        self.tasks.run(
            _find_export_model(path, current, candidates),
            "open export",
            lambda found: self._on_export_model(path, found),
            lambda message: self._on_export_failed(path, message),
        )

    def _model_candidates(self, export: str) -> list[str]:
        """Model files beside an export, and in the run folders above it (an export saved
        in a run's previews/ folder, or one folder down)."""
        folders = [Path(export).parent, Path(export).parent.parent]
        found: list[str] = []
        for folder in folders:
            try:
                found += sorted(str(p) for p in folder.glob("*.safetensors") if p.is_file())
            except OSError:
                continue
        return found

    def _on_export_model(self, path: str, found: tuple[str, str | None]) -> None:
        model_hash, model_path = found
        opened = self.latest.opened_model
        if opened is not None and str(opened.meta.get("content_hash", "")) == model_hash:
            self.status.clearMessage()
            self.tabs.setCurrentWidget(self.explorer)
            self.explorer.open_export(path)
        elif model_path is not None:
            self._pending_export = path
            self.open_model(model_path)
        elif opened is not None:  # another model: restored, with a note that pictures differ
            self.status.clearMessage()
            self.tabs.setCurrentWidget(self.explorer)
            self.explorer.open_export(path)
        else:
            self.status.clearMessage()
            self.banner.show_message(
                f"{Path(path).name} was made with model {model_hash or '?'}, and no model file "
                "with that hash is beside it or among the recent models: open that model "
                "(File > Open model...), then the export (File > Open export...).",
                "warning",
            )

    def _on_export_failed(self, path: str, message: str) -> None:
        self.status.clearMessage()
        prefix = f"{Path(path)}: "
        reason = message[len(prefix) :] if message.startswith(prefix) else message
        self.banner.show_message(f"Could not open the export {path}: {reason}", "error")


def _find_export_model(
    export: str, current: str | None, candidates: Sequence[str]
) -> Callable[[Callable[[int, int], None]], tuple[str, str | None]]:
    """A background task: the export's model hash (ExportError if it is no export), and
    the first candidate model file with that hash (None when the opened model, hash
    ``current``, is it, or when none is). Only descriptions are read, never weights."""

    def run(progress: Callable[[int, int], None]) -> tuple[str, str | None]:
        from ganstudio.core.explore.provenance import read_provenance
        from ganstudio.core.modelfile import FORMAT, read_metadata

        model_hash = str(read_provenance(export)["model_hash"])
        if not model_hash or model_hash == current:
            return model_hash, None
        seen: set[str] = set()
        for i, path in enumerate(candidates):
            progress(i, len(candidates))
            if path in seen:
                continue
            seen.add(path)
            try:
                meta = read_metadata(path)
            except (OSError, ValueError):  # ModelFileError is a ValueError
                continue
            if meta.get("format") == FORMAT and meta.get("content_hash") == model_hash:
                return model_hash, path
        return model_hash, None

    return run
