"""The File menu's work and drag and drop, mixed into the main window: opening and saving
models, exporting the samples on screen, recent files."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from ganstudio import __version__
from ganstudio.gui import engine

MAX_RECENT = 10
MODEL_FILTER = "GAN Studio models and checkpoints (*.safetensors);;All files (*)"


class FileActions:
    """Expects the main window's settings, session, samples, setup, banner and tasks."""

    # ---------------------------------------------------------------------------------
    # Files

    def _pick_save(self, title: str, name: str, filters: str) -> str:
        start = str(Path(self.settings.value("last_folder", str(Path.home()))) / name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filters)
        if path:
            self.settings.setValue("last_folder", str(Path(path).parent))
        return path

    def open_dataset_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a folder of pictures", self.settings.value("last_folder", "")
        )
        if path:
            self.settings.setValue("last_folder", path)
            self.setup.dataset.add_dataset_path(path)

    def open_dataset_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a dataset file",
            self.settings.value("last_folder", ""),
            "Datasets (*.zip *.tar *.tgz *.gz *.bz2 *.xz *.npy *.npz *.bin *idx*-ubyte*);;"
            "All files (*)",
        )
        if path:
            self.settings.setValue("last_folder", str(Path(path).parent))
            self.setup.dataset.add_dataset_path(path)

    def open_model(self, path: str | None = None) -> None:
        if self.session.active:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a model", self.settings.value("last_folder", ""), MODEL_FILTER
            )
        if not path:
            return
        self.statusBar().showMessage(f"Opening {path} ...")
        self._run_task(
            engine.open_model_task(str(path)),
            "open model",
            self._on_model_opened,
            self._on_model_failed,
        )

    def _on_model_opened(self, opened: engine.OpenedModel) -> None:
        self.opened_model = opened
        self.explorer.set_model(opened)
        self.tabs.setCurrentWidget(self.explorer)
        self.last_snapshot = None
        meta = opened.meta
        name = Path(opened.path).name
        dataset = meta.get("dataset", {}).get("name", "?")
        step = meta.get("step")
        title = f"{name}: step {step:,} on {dataset}" if isinstance(step, int) else name
        caption = f"Seed 0. Model hash {meta.get('content_hash')}"
        if opened.picture is not None:
            self.samples.show_images(opened.picture, title, caption)
        else:
            modes = meta.get("dataset", {}).get("modes") or ()
            self.samples.set_real_points(None, modes)
            self.samples.show_points(opened.points, title, caption)
        self._add_recent("model", opened.path)
        self.statusBar().showMessage(f"Opened {opened.path}", 5000)
        self._on_state(self.session.state)

    def _on_model_failed(self, message: str) -> None:
        self.banner.show_message(f"Could not open the model: {message}", "error")
        self.statusBar().clearMessage()

    def save_model(self, path: str | None = None) -> None:
        if self.last_snapshot is None and self.opened_model is None:
            return
        if not path:
            path = self._pick_save("Save model", "generator.safetensors", MODEL_FILTER)
        if not path:
            return
        try:
            if self.last_snapshot is not None and self.started_info is not None:
                engine.save_snapshot(path, self.last_snapshot, self.started_info.model_meta)
            else:
                engine.save_opened_model(path, self.opened_model)
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not save the model to {path}: {exc}", "error")
            return
        self._add_recent("model", path)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def export_grid(self, path: str | None = None) -> None:
        picture = self.samples.picture()
        if picture is None:
            return
        if not path:
            path = self._pick_save("Export grid", "samples.png", "PNG pictures (*.png)")
        if not path:
            return
        provenance = {"ganstudio.app_version": __version__}
        followed = self.followed_preview()
        if followed is not None:
            provenance |= followed
        elif self.opened_model is not None:
            provenance |= {
                "ganstudio.model_hash": str(self.opened_model.meta.get("content_hash", "")),
                "ganstudio.seed": "0",
            }
        elif self.last_preview is not None and self.started_info is not None:
            provenance |= {
                "ganstudio.run": self.started_info.run_folder,
                "ganstudio.step": str(self.last_preview.step),
                "ganstudio.latents": "the run's fixed preview latents",
            }
        try:
            engine.save_picture(path, picture, provenance)
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not export to {path}: {exc}", "error")
            return
        self.statusBar().showMessage(f"Exported {path}", 5000)

    # ---------------------------------------------------------------------------------
    # Recent files

    def _recent(self) -> list[dict]:
        try:
            items = json.loads(self.settings.value("recent", "[]"))
        except (TypeError, ValueError):
            return []
        return [i for i in items if isinstance(i, dict) and "path" in i and "kind" in i]

    def _add_recent(self, kind: str, path: str) -> None:
        items = [i for i in self._recent() if i["path"] != str(path)]
        items.insert(0, {"kind": kind, "path": str(path)})
        self.settings.setValue("recent", json.dumps(items[:MAX_RECENT]))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = self._recent()
        labels = {"model": "Model", "run": "Run", "dataset": "Dataset", "follow": "Follow"}
        items = [i for i in items if i["kind"] in labels]
        for item in items:
            a = self.recent_menu.addAction(f"{labels[item['kind']]}: {item['path']}")
            a.triggered.connect(lambda _c=False, i=item: self._open_recent(i))
        self.recent_menu.setEnabled(bool(items))

    def _open_recent(self, item: dict) -> None:
        if self.session.active:
            return
        if not Path(item["path"]).exists():
            self.banner.show_message(f"{item['path']} no longer exists.", "warning")
            return
        if item["kind"] == "model":
            self.open_model(item["path"])
        elif item["kind"] == "run":
            self.resume_run(item["path"])
        elif item["kind"] == "follow":
            self.follow_run(item["path"])
        else:
            self.setup.dataset.add_dataset_path(item["path"])

    # ---------------------------------------------------------------------------------
    # Drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and not self.session.active:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        urls = event.mimeData().urls()
        if not urls or not urls[0].isLocalFile():
            return
        self.drop_path(urls[0].toLocalFile())
        event.acceptProposedAction()

    def drop_path(self, path: str) -> None:
        """A dropped model file opens; a folder, archive or dataset file becomes the dataset."""
        if self.session.active:
            return
        if path.lower().endswith(".safetensors"):
            self.open_model(path)
        else:
            self.setup.dataset.add_dataset_path(path)
