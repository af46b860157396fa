"""The main window: composes the set-up panel, the loss curves, the samples view, the explorer
and the Diagnose tab, and wires menus, toolbar and status bar to a TrainingSession."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.choices import DEFAULT_DATASET
from ganstudio.core.durations import format_duration
from ganstudio.core.runs.job import RunResult, RunStarted
from ganstudio.gui import engine
from ganstudio.gui.diagnose.tab import DiagnoseTab
from ganstudio.gui.explore.panel import ExplorerPanel
from ganstudio.gui.follow.view import FollowRun
from ganstudio.gui.threads import Task, running_threads
from ganstudio.gui.train.setup_panel import SetupPanel
from ganstudio.gui.train.training import TrainingSession
from ganstudio.gui.widgets.banner import Banner
from ganstudio.gui.widgets.curves import CurvesPanel
from ganstudio.gui.widgets.samples_view import SamplesView
from ganstudio.gui.window.file_actions import FileActions
from ganstudio.gui.window.menus import MenusAndBars
from ganstudio.gui.window.state import WindowState

log = logging.getLogger(__name__)

STATUS_INTERVAL = 0.25  # seconds between status-bar updates while training


class MainWindow(MenusAndBars, WindowState, FileActions, DiagnoseTab, FollowRun, QMainWindow):
    """``settings``: where preferences live (tests pass a QSettings on a temporary file)."""

    engine_ready = Signal()
    dataset_ready = Signal()

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("GAN Studio")
        self.setAcceptDrops(True)
        self.session = TrainingSession(self)
        self.devices: list[tuple[str, str]] | None = None
        self.data: engine.PreparedData | None = None
        self.resolved: dict | None = None
        self.started_info: RunStarted | None = None
        self.last_snapshot = None
        self.last_preview = None
        self.opened_model: engine.OpenedModel | None = None
        self.last_result: RunResult | None = None
        self._tasks: set[Task] = set()
        self._data_task: Task | None = None
        self._closing = False
        self._status_time = 0.0

        self.setup = SetupPanel()
        self.curves = CurvesPanel()
        self.samples = SamplesView()
        self.banner = Banner()
        centre = QWidget()
        v = QVBoxLayout(centre)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.banner)
        v.addWidget(self._build_follow())  # File > Follow run folder...
        self.views = QSplitter(Qt.Orientation.Horizontal)
        self.views.addWidget(self.curves)
        self.views.addWidget(self.samples)
        self.views.setStretchFactor(0, 3)
        self.views.setStretchFactor(1, 2)
        self.explorer = ExplorerPanel()
        self.explorer.message.connect(self.banner.show_message)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.views, "Train")
        self.tabs.addTab(self.explorer, "Explore")
        self._build_diagnose_tab()
        v.addWidget(self.tabs, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.setup)
        self.splitter.addWidget(centre)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._validate_timer = QTimer(self, singleShot=True, interval=120)
        self._validate_timer.timeout.connect(self._validate)

        self.setup.dataset.dataset_requested.connect(self._request_dataset)
        self.setup.dataset.open_folder_clicked.connect(self.open_dataset_folder)
        self.setup.dataset.open_file_clicked.connect(self.open_dataset_file)
        self.setup.changed.connect(self._validate_timer.start)
        self.setup.live_edit.connect(self._live_edit)
        s = self.session
        s.state_changed.connect(self._on_state)
        s.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        s.data_progress.connect(self.setup.dataset.show_dataset_loading)
        s.started.connect(self._on_started)
        s.report.connect(self._on_report)
        s.preview.connect(self._on_preview)
        s.snapshot.connect(self._on_snapshot)
        s.warning.connect(self._on_warning)
        s.finished.connect(self._on_finished)

        self._restore_settings()
        self._on_state("idle")
        QTimer.singleShot(0, self._start_engine)

    # ---------------------------------------------------------------------------------
    # Engine and dataset (background threads)

    def _run_task(self, fn, name: str, done, failed, progress=None) -> Task:
        task = Task(fn, name, self)
        task.done.connect(done)
        task.failed.connect(failed)
        if progress is not None:
            task.progress.connect(progress)
        self._tasks.add(task)
        task.done.connect(lambda _r: self._tasks.discard(task))
        task.failed.connect(lambda _m: self._tasks.discard(task))
        return task.start()

    def _start_engine(self) -> None:
        self.busy.show()
        self.statusBar().showMessage("Loading the engine (PyTorch) ...")
        self._run_task(engine.load_engine, "engine", self._on_engine, self._on_engine_failed)
        self._request_dataset(self.setup.dataset.dataset_spec())

    def _on_engine(self, devices: list[tuple[str, str]]) -> None:
        self.devices = devices
        self.setup.set_devices(devices)
        saved = self.settings.value("device", "auto")
        i = self.setup.device.findData(saved)
        if i >= 0:
            self.setup.device.setCurrentIndex(i)
        self.statusBar().showMessage("Ready", 3000)
        self._update_busy()
        self._validate()
        self.engine_ready.emit()

    def _on_engine_failed(self, message: str) -> None:
        self.banner.show_message(f"The training engine could not load: {message}")
        self._update_busy()

    def _update_busy(self) -> None:
        self.busy.setVisible(any(t.is_running() for t in self._tasks))

    def _request_dataset(self, spec: str) -> None:
        if self._data_task is not None:
            self._data_task.cancel()  # newest request wins
        self.data = None
        self.resolved = None
        self.setup.dataset.show_dataset_loading(0, 0)
        self.busy.show()
        self._on_state(self.session.state)
        self._data_task = self._run_task(
            engine.prepare_dataset_task(spec),
            "dataset",
            self._on_dataset,
            self._on_dataset_failed,
            self.setup.dataset.show_dataset_loading,
        )

    def _on_dataset(self, data: engine.PreparedData) -> None:
        self.data = data
        self.setup.dataset.show_dataset(
            data.summary, data.picture, data.points, getattr(data.info, "modes", ())
        )
        self._remember_dataset(data.spec)
        self._update_busy()
        self._validate()
        self.dataset_ready.emit()

    def _on_dataset_failed(self, message: str) -> None:
        self.setup.dataset.show_dataset_error(message)
        self.setup.show_verdict("Choose a dataset that can be read.", error=True)
        self._update_busy()
        self._on_state(self.session.state)

    def _remember_dataset(self, spec: str) -> None:
        self.settings.setValue("dataset", spec)
        base = spec.partition("?")[0]
        if not base.startswith("builtin:"):
            self._add_recent("dataset", base)

    def _validate(self) -> None:
        if self.session.active:
            return
        if self.devices is None:
            self.setup.show_verdict("Loading the engine ...", error=False)
        elif self.data is None:
            if self._data_task is not None and self._data_task.is_running():
                self.setup.show_verdict("Preparing the dataset ...", error=False)
        else:
            try:
                fields = self.setup.config_fields()
            except ValueError as exc:
                self.resolved = None
                self.setup.show_verdict(str(exc), error=True)
            else:
                self.resolved, verdict = engine.check_settings(fields, self.data.info)
                self.setup.show_verdict(verdict, error=self.resolved is None)
                self.setup.show_resolved(self.resolved)
        self._on_state(self.session.state)

    # ---------------------------------------------------------------------------------
    # Training controls

    def _runs_dir(self) -> str:
        saved = self.settings.value("runs_dir", "")
        if saved:
            return str(saved)
        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return str(Path(docs or Path.home()) / "GAN Studio" / "runs")

    def start_training(self) -> None:
        if self.session.active or not self.start_action.isEnabled():
            return
        try:
            job = self.new_job(config=self.setup.config_fields(), dataset=self.data.dataset)
        except ValueError as exc:
            self.setup.show_verdict(str(exc), error=True)
            return
        self.banner.hide()
        self._save_settings()
        self.session.start(job)

    def resume_run(self, path: str | None = None) -> None:
        if self.session.active:
            return
        if not path:
            path = QFileDialog.getExistingDirectory(
                self, "Resume a run: choose its run folder", self._runs_dir()
            )
        if not path:
            return
        self.banner.hide()
        self._add_recent("run", path)
        self.session.start(self.new_job(resume=str(path)))

    def toggle_pause(self) -> None:
        if self.session.state == "running":
            self.session.pause()
        elif self.session.state == "paused":
            self.session.resume()

    def step_once(self) -> None:
        self.session.step(1)

    def stop_training(self) -> None:
        self.session.stop(save=True)

    def _live_edit(self, edits: dict) -> None:
        try:
            self.session.set_live(**edits)
        except ValueError as exc:
            self.setup.show_verdict(str(exc), error=True)
            return
        name, value = next(iter(edits.items()))
        self.statusBar().showMessage(f"{name} set to {value:g}; applies from the next step", 4000)

    def _on_state(self, state: str) -> None:
        idle = state == "idle"
        can_start = (
            idle
            and self.devices is not None
            and self.data is not None
            and self.resolved is not None
        )
        self.start_action.setEnabled(can_start)
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.pause_action.setText("Resume" if state == "paused" else "Pause")
        self.step_action.setEnabled(state in ("running", "paused"))
        self.stop_action.setEnabled(state in ("starting", "running", "paused"))
        self.resume_action.setEnabled(idle)
        self.open_model_action.setEnabled(idle)
        self.save_model_action.setEnabled(
            self.last_snapshot is not None or (idle and self.opened_model is not None)
        )
        self.export_action.setEnabled(self.samples.picture_available())
        self.setup.set_running(not idle)
        title = "GAN Studio"
        if self.started_info is not None and not idle:
            title += f" - {Path(self.started_info.run_folder).name} ({state})"
        self.setWindowTitle(title)

    # ---------------------------------------------------------------------------------
    # What the training thread sends

    def _on_started(self, info: RunStarted) -> None:
        self.started_info = info
        self.last_snapshot = None
        self.opened_model = None
        self.curves.clear()
        self.curves.set_d_output_is_probability(info.probabilistic)
        if len(info.history_steps):
            self.curves.set_history(info.history_steps, info.history_stats)
        is_image = info.dataset.get("kind") == "images"
        if not is_image:
            self.samples.set_real_points(info.real_points, info.modes)
        if info.resumed:  # show the checkpoint's settings; a new run keeps the user's "auto"s
            self.setup.set_config_fields(info.config)
            self.setup.dataset.select_dataset(info.config.get("dataset", DEFAULT_DATASET))
        self.setup.show_verdict(
            f"Training {info.config['arch'].upper()} ({info.config['loss']}) on {info.device}"
            f"{' with bf16' if info.bf16 else ''}. Run folder: {info.run_folder}",
            error=False,
        )
        if info.warnings:
            self.banner.show_message("\n".join(info.warnings), "warning")
        self._add_recent("run", info.run_folder)
        self._update_step(info.step, info.total_steps)
        self._t0 = time.monotonic()

    def _update_step(self, step: int, total: int) -> None:
        self.step_label.setText(f"step {step:,} / {total:,}")

    def _on_report(self, r) -> None:
        self.curves.append_report(r)
        now = time.monotonic()
        if now - self._status_time < STATUS_INTERVAL and r.step < r.total_steps:
            return  # the status bar changes at most a few times a second
        self._status_time = now
        self._update_step(r.step, r.total_steps)
        self.speed_label.setText(f"{r.images_per_s:,.0f} img/s")
        eta = (r.total_steps - r.step) / r.steps_per_s if r.steps_per_s > 0 else math.inf
        self.eta_label.setText(f"ETA {format_duration(eta, '--')}")
        self.memory_label.setText(
            f"{r.memory / 2**20:,.0f} MiB on device" if r.memory is not None else ""
        )

    def _on_preview(self, p) -> None:
        self.last_preview = p
        if p.coverage is not None or p.grid.size == 0:
            caption = ""
            if p.coverage is not None:
                c = p.coverage
                caption = (
                    f"Mode coverage: {c.modes_captured} of {c.n_modes} modes captured, "
                    f"{c.hq_fraction:.1%} of samples high quality (within 3 sigma of a mode)"
                )
            self.samples.show_points(
                p.samples, f"Step {p.step:,}: real (blue) and generated (orange) points", caption
            )
        else:
            self.samples.show_images(
                p.grid, f"Step {p.step:,}: samples of the EMA generator from fixed latents"
            )
        self.export_action.setEnabled(True)

    def _on_snapshot(self, snap) -> None:
        self.last_snapshot = snap
        self.save_model_action.setEnabled(True)
        if self.started_info is not None:
            self.explorer.set_snapshot(snap, self.started_info.model_meta)

    def _on_finished(self, result: RunResult) -> None:
        self.last_result = result
        if result.status == "failed":
            self.banner.show_message(f"Training stopped: {result.message}", "error")
        else:
            saved = f" Model saved to {result.model_path}." if result.model_path else ""
            self.statusBar().showMessage(f"{result.message}.{saved}", 15000)
        self.eta_label.setText("")
        self._validate()

    # ---------------------------------------------------------------------------------
    # Closing

    def ask_save_on_close(self) -> str:
        """'save', 'discard' or 'cancel' (tests replace this)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        box.setText("Training is still running. Save a checkpoint and the model before closing?")
        box.setInformativeText("Saved runs can be continued later with File > Resume run.")
        save = box.addButton("Save and close", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Close without saving", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "discard" if clicked is discard else "cancel"

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.session.active:
            answer = self.ask_save_on_close()
            if answer == "cancel":
                event.ignore()
                return
            self.session.stop(save=answer == "save")
        self._closing = True
        self.stop_following(quiet=True)
        self._save_settings()
        if not self.session.wait(30_000):
            log.error("the training thread did not stop within 30 s")
        self.explorer.close_renderer()
        for task in list(self._tasks):
            task.cancel()
        for thread in running_threads():
            thread.wait(30_000)
        event.accept()
