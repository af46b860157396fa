"""The main window: composes the Train tab (the set-up panel beside the loss curves and the
samples view), the explorer and the Diagnose tab with the objects that do the window's work
(actions and menus, files, following a run folder, exporting a dataset, remembered state),
and wires them to a TrainingSession."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.choices import DEFAULT_DATASET, largest_auto_size
from ganstudio.core.config import TrainConfig
from ganstudio.core.durations import TimeLeft
from ganstudio.core.runs.job import RunJob
from ganstudio.gui import engine
from ganstudio.gui.diagnose.tab import DiagnoseTab
from ganstudio.gui.explore.panel import ExplorerPanel
from ganstudio.gui.follow.view import FollowController
from ganstudio.gui.threads import Task, TaskGroup, running_threads
from ganstudio.gui.train.setup_panel import SetupPanel
from ganstudio.gui.train.training import TrainingSession
from ganstudio.gui.widgets.banner import Banner
from ganstudio.gui.widgets.curves import CurvesPanel
from ganstudio.gui.widgets.samples_view import SamplesView
from ganstudio.gui.widgets.status_bar import RunStatusBar
from ganstudio.gui.widgets.tabs import StableTabWidget
from ganstudio.gui.window.dataset_export import DatasetExporter
from ganstudio.gui.window.file_actions import FileActions
from ganstudio.gui.window.latest import Latest
from ganstudio.gui.window.menus import ActionSlots, WindowActions, show_about
from ganstudio.gui.window.recent import RecentFiles
from ganstudio.gui.window.state import WindowState, runs_dir

if TYPE_CHECKING:
    from ganstudio.core.data.dataset import Dataset
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.runs.job import RunResult, RunStarted
    from ganstudio.core.training.events import Preview, Report, Snapshot

log = logging.getLogger(__name__)

STATUS_INTERVAL = 0.25  # seconds between status-bar updates while training


class MainWindow(QMainWindow):
    """``settings``: where preferences live (tests pass a QSettings on a temporary file).

    Panels: ``setup``, ``curves``, ``samples`` (the Train tab: the set-up panel belongs to
    training, so the other tabs get the whole width), ``explorer``, ``diagnose`` (its tab:
    ``diagnose_tab``), ``banner``, ``status``. The window's work: ``commands`` (actions,
    menus, toolbar), ``files`` (File menu, drops, paths given on the command line),
    ``follow`` (a run folder written elsewhere), ``dataset_export`` (File > Export
    dataset...), ``recent`` files, ``saved_state`` (what is remembered), ``tasks``
    (background work) and ``latest`` (what the run and the opened model last sent)."""

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
        self.latest = Latest()
        self.tasks = TaskGroup(self)
        self._data_task: Task | None = None
        self._data_largest = largest_auto_size(False)  # of the data prepared last
        self._status_time = 0.0
        self._time_left = TimeLeft()  # the status bar's ETA
        # 'save', 'discard' or 'cancel' when closing during training (tests replace it)
        self.ask_save_on_close: Callable[[], str] = self._ask_save_dialog

        # Panels
        self.setup = SetupPanel()
        self.curves = CurvesPanel()
        self.samples = SamplesView()
        self.banner = Banner()
        self.status = RunStatusBar()
        self.setStatusBar(self.status)
        # Busy while any background task runs (the engine, a dataset, a model opening, ...).
        self.tasks.busy_changed.connect(self.status.set_busy)
        self.views = QSplitter(Qt.Orientation.Horizontal)
        self.views.addWidget(self.curves)
        self.views.addWidget(self.samples)
        self.views.setStretchFactor(0, 3)
        self.views.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)  # the Train tab
        self.splitter.addWidget(self.setup)
        self.splitter.addWidget(self.views)
        self.splitter.setStretchFactor(1, 1)
        self.explorer = ExplorerPanel()
        self.explorer.message.connect(self.banner.show_message)
        self.tabs = StableTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Train")
        self.tabs.addTab(self.explorer, "Explore")
        self.diagnose_tab = DiagnoseTab(
            self.tabs, self.session, self.settings, self.banner, lambda: self.data
        )
        self.diagnose = self.diagnose_tab.panel

        # The window's work
        self.recent = RecentFiles(self.settings, self._open_recent, self)
        self.follow = FollowController(
            parent=self,
            settings=self.settings,
            session=self.session,
            curves=self.curves,
            samples=self.samples,
            diagnose=self.diagnose_tab,
            banner=self.banner,
            tabs=self.tabs,
            status=self.status,
            add_recent=self.recent.add,
            runs_dir=self.runs_dir,
        )
        self.files = FileActions(
            parent=self,
            settings=self.settings,
            session=self.session,
            latest=self.latest,
            dataset=self.setup.dataset,
            samples=self.samples,
            explorer=self.explorer,
            tabs=self.tabs,
            banner=self.banner,
            status=self.status,
            recent=self.recent,
            tasks=self.tasks,
            followed_preview=self.follow.followed_preview,
            follow_run=self.follow.follow_run,
        )
        self.dataset_export = DatasetExporter(
            parent=self,
            settings=self.settings,
            latest=self.latest,
            tasks=self.tasks,
            banner=self.banner,
            status=self.status,
            truncation=lambda: self.explorer.psi.value() / 100,
        )
        slots = ActionSlots(
            start=self.start_training,
            pause=self.toggle_pause,
            step=self.step_once,
            slow_motion=self.set_slow_motion,
            stop=self.stop_training,
            open_model=self.files.open_model,
            save_model=self.files.save_model,
            resume=self.resume_run,
            follow=self.follow.follow_run,
            stop_follow=self.follow.stop_following,
            export=self.files.export_grid,
            export_dataset=self.dataset_export.export_dataset,
            open_export=self.explorer.open_export,
            open_dataset_folder=self.files.open_dataset_folder,
            open_dataset_file=self.files.open_dataset_file,
            show_setup=self.setup.setVisible,
        )
        self.commands = WindowActions(self, slots, self.recent.menu)
        self._restore_slow_motion()

        centre = QWidget()
        v = QVBoxLayout(centre)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.banner)
        v.addWidget(self.follow.bar)  # File > Follow run folder...
        v.addWidget(self.tabs, 1)
        self.setCentralWidget(centre)
        self.saved_state = WindowState(
            settings=self.settings,
            window=self,
            splitters={"splitter": self.splitter, "views": self.views},
            setup=self.setup,
            curves=self.curves,
            recent=self.recent,
        )

        self._validate_timer = QTimer(self, singleShot=True, interval=120)
        self._validate_timer.timeout.connect(self._validate)
        # A report held back by STATUS_INTERVAL is shown when the interval is over, so the
        # status bar never stays behind the run (the last report before a pause or the end).
        self._status_report: Report | None = None
        self._status_timer = QTimer(self, singleShot=True)
        self._status_timer.timeout.connect(self._show_status)
        self.follow.following_changed.connect(self.commands.stop_follow.setEnabled)
        self.follow.picture_shown.connect(lambda: self.commands.export.setEnabled(True))
        self.follow.open_model_requested.connect(self.files.open_model)
        self.files.model_opened.connect(lambda _opened: self._on_state(self.session.state))
        self.setup.dataset.dataset_requested.connect(self._request_dataset)
        self.setup.dataset.open_folder_clicked.connect(self.files.open_dataset_folder)
        self.setup.dataset.open_file_clicked.connect(self.files.open_dataset_file)
        self.setup.changed.connect(self._validate_timer.start)
        self.setup.live_edit.connect(self._live_edit)
        s = self.session
        s.state_changed.connect(self._on_state)
        # What the run is doing stays until it does the next thing (a final measurement
        # or a save can take a while); the result replaces the last of them.
        s.status.connect(self.status.show_phase)
        s.data_progress.connect(self.setup.dataset.show_dataset_loading)
        s.started.connect(self._on_started)
        s.report.connect(self._on_report)
        s.preview.connect(self._on_preview)
        s.quality.connect(self._on_quality)
        s.snapshot.connect(self._on_snapshot)
        s.finished.connect(self._on_finished)

        self.saved_state.restore()
        self._on_state("idle")
        QTimer.singleShot(0, self._start_engine)

    # ---------------------------------------------------------------------------------
    # Kept on the window for scripts and tests

    @property
    def start_action(self) -> QAction:
        return self.commands.start

    @property
    def opened_model(self) -> engine.OpenedModel | None:
        """The model opened from a file (File > Open model...), if any."""
        return self.latest.opened_model

    def open_model(self, path: str | None = None) -> None:
        self.files.open_model(path)

    def open_path(self, path: str, ignored: Sequence[str] = ()) -> None:
        """Open a model, run folder, export or dataset (see FileActions.open_path)."""
        self.files.open_path(path, ignored)

    def about(self) -> None:
        show_about(self)

    # ---------------------------------------------------------------------------------
    # Engine and dataset (background threads)

    def _start_engine(self) -> None:
        self.status.show_phase("Loading the engine (PyTorch) ...")
        self.tasks.run(engine.load_engine, "engine", self._on_engine, self._on_engine_failed)
        self._request_dataset(self.setup.dataset.dataset_spec())

    def _on_engine(self, devices: list[tuple[str, str]]) -> None:
        self.devices = devices
        self.setup.set_devices(devices)
        saved = self.settings.value("device", "auto")
        i = self.setup.device.findData(saved)
        if i >= 0:
            self.setup.device.setCurrentIndex(i)
        self.status.show_phase("Ready")
        self._validate()
        self.engine_ready.emit()

    def _on_engine_failed(self, message: str) -> None:
        self.banner.show_message(f"The training engine could not load: {message}")
        self.status.show_phase("")

    def _request_dataset(self, spec: str) -> None:
        if self._data_task is not None:
            self._data_task.cancel()  # newest request wins
        self.data = None
        self.resolved = None
        self.setup.dataset.show_dataset_loading(0, 0)
        self._on_state(self.session.state)
        self._data_largest = largest_auto_size(self._trains_on_accelerator())
        self._data_task = self.tasks.run(
            engine.prepare_dataset_task(spec, self._data_largest),
            "dataset",
            self._on_dataset,
            self._on_dataset_failed,
            self.setup.dataset.show_dataset_loading,
        )

    def _trains_on_accelerator(self) -> bool:
        """Whether the chosen device (auto: the engine's preferred one) is a GPU."""
        device = self.setup.device.currentData() or "auto"
        if device == "auto" and self.devices:
            device = self.devices[0][0]
        return not str(device).startswith("cpu")

    def _automatic_size(self, spec: str) -> bool:
        """Whether ``spec``'s pictures are prepared at the automatic size."""
        base, _, query = spec.partition("?")
        return not base.startswith("builtin:") and "size=" not in query

    def _on_dataset(self, data: engine.PreparedData) -> None:
        self.data = data
        self.setup.dataset.show_dataset(
            data.summary, data.picture, data.points, getattr(data.info, "modes", ())
        )
        automatic = self._automatic_size(data.spec) and data.info.is_image
        self.setup.dataset.show_auto_size(data.info.image_size if automatic else None)
        self._remember_dataset(data.spec)
        self._validate()
        self.dataset_ready.emit()

    def _on_dataset_failed(self, message: str) -> None:
        self.setup.dataset.show_dataset_error(message)
        self.setup.show_verdict("Choose a dataset that can be read.", error=True)
        self._on_state(self.session.state)

    def _remember_dataset(self, spec: str) -> None:
        self.settings.setValue("dataset", spec)
        base = spec.partition("?")[0]
        if not base.startswith("builtin:"):
            self.recent.add("dataset", base)

    def validate_now(self) -> None:
        """Check the settings at once, not after the panel's pause for typing (scripts,
        tests and benchmarks that set fields and start at once)."""
        self._validate_timer.stop()
        self._validate()

    def _validate(self) -> None:
        if self.session.active:
            return
        if (
            self.data is not None
            and self._automatic_size(self.data.spec)
            and self._data_largest != largest_auto_size(self._trains_on_accelerator())
        ):
            # Another device, another automatic size (64 px on the CPU, 256 px on a GPU).
            self._request_dataset(self.data.spec)
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
                self.resolved, verdict = engine.check_settings(
                    fields, self.data.info, self._trains_on_accelerator()
                )
                self.setup.show_verdict(verdict, error=self.resolved is None)
                self.setup.show_resolved(self.resolved)
        self._on_state(self.session.state)

    # ---------------------------------------------------------------------------------
    # Training controls

    def runs_dir(self) -> str:
        """The folder new runs go into."""
        return runs_dir(self.settings)

    def new_job(
        self,
        config: dict | None = None,
        dataset: Dataset | None = None,
        resume: str | None = None,
        steps: int | None = None,
    ) -> RunJob:
        """A RunJob in the window's runs folder, measuring quality as the Diagnose tab says:
        ``config`` (TrainConfig fields) for a new run, or ``resume`` a run folder or
        checkpoint (for ``steps`` in all). ConfigError when a field is invalid."""
        return RunJob(
            config=None if config is None else TrainConfig.from_dict(config),
            resume=resume,
            dataset=dataset,
            steps=steps,
            runs_dir=self.runs_dir(),
            metrics_every=self.diagnose_tab.metrics_every(),
        )

    def start_training(self) -> None:
        if self.session.active or not self.commands.start.isEnabled() or self.data is None:
            return
        try:
            job = self.new_job(config=self.setup.config_fields(), dataset=self.data.dataset)
        except ValueError as exc:
            self.setup.show_verdict(str(exc), error=True)
            return
        self.banner.hide()
        self.saved_state.save()
        self.session.start(job)

    def resume_run(self, path: str | None = None) -> None:
        if self.session.active:
            return
        if not path:
            path = QFileDialog.getExistingDirectory(
                self, "Resume a run: choose its run folder", self.runs_dir()
            )
        if not path:
            return
        self.banner.hide()
        self.recent.add("run", path)
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

    def set_slow_motion(self, on: bool) -> None:
        """While paused, Step shows D's update, then G's; remembered between sessions."""
        self.session.set_slow_motion(bool(on))
        self.settings.setValue("slow_motion", bool(on))

    def _restore_slow_motion(self) -> None:
        on = str(self.settings.value("slow_motion", "false")).lower() in ("true", "1")
        self.commands.slow_motion.setChecked(on)
        self.session.set_slow_motion(on)

    def _live_edit(self, edits: dict) -> None:
        try:
            self.session.set_live(**edits)
        except ValueError as exc:
            self.setup.show_verdict(str(exc), error=True)
            return
        name, value = next(iter(edits.items()))
        self.status.showMessage(f"{name} set to {value:g}; applies from the next step", 4000)

    def _on_state(self, state: str) -> None:
        idle = state == "idle"
        can_start = (
            idle
            and self.devices is not None
            and self.data is not None
            and self.resolved is not None
        )
        c = self.commands
        c.start.setEnabled(can_start)
        c.pause.setEnabled(state in ("running", "paused"))
        c.pause.setText("Resume" if state == "paused" else "Pause")
        c.step.setEnabled(state in ("running", "paused"))
        c.stop.setEnabled(state in ("starting", "running", "paused"))
        c.resume.setEnabled(idle)
        c.follow.setEnabled(idle)
        c.open_model.setEnabled(idle)
        c.export_dataset.setEnabled(idle and self.latest.opened_model is not None)
        c.save_model.setEnabled(
            self.latest.snapshot is not None or (idle and self.latest.opened_model is not None)
        )
        c.export.setEnabled(self.samples.picture_available())
        self.setup.set_running(not idle)
        title = "GAN Studio"
        started = self.latest.started
        if started is not None and not idle:
            title += f" - {Path(started.run_folder).name} ({state})"
        self.setWindowTitle(title)

    # ---------------------------------------------------------------------------------
    # What the training thread sends

    def _on_started(self, info: RunStarted) -> None:
        self._time_left.reset()
        self.latest.started = info
        self.latest.snapshot = None
        self.latest.opened_model = None
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
        self.recent.add("run", info.run_folder)
        self.status.show_step(info.step, info.total_steps)

    def _on_report(self, r: Report) -> None:
        self.curves.append_report(r)
        self._time_left.report(r.step, r.elapsed, r.total_steps, r.budget_seconds)
        self._status_report = r
        wait = STATUS_INTERVAL - (time.monotonic() - self._status_time)
        if wait > 0 and self._time_left.training_left() > 0:
            # The status bar changes at most a few times a second; this one comes then.
            if not self._status_timer.isActive():
                self._status_timer.start(int(wait * 1000) + 1)
            return
        self._show_status()

    def _show_status(self) -> None:
        """The newest report not shown yet, in the status bar."""
        self._status_timer.stop()
        if self._status_report is None:
            return
        r, eta = self._status_report, self._time_left.seconds()
        self._status_report = None
        self._status_time = time.monotonic()
        self.status.show_step(r.step, r.total_steps, r.elapsed, r.budget_seconds)
        self.status.show_speed(r.images_per_s)
        self.status.show_eta(eta)
        self.status.show_memory(r.memory)
        self.status.show_augment(r.augment_p)

    def _on_quality(self, q: Quality) -> None:
        eta = self._time_left.quality(q)
        if self.session.active and self._time_left.training_left() <= 0:
            self.status.show_eta(eta)  # the final measurement counts down

    def _on_preview(self, p: Preview) -> None:
        self.latest.preview = p
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
        self.commands.export.setEnabled(True)

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.latest.snapshot = snap
        self.commands.save_model.setEnabled(True)
        if self.latest.started is not None:
            self.explorer.set_snapshot(snap, self.latest.started.model_meta)

    def _on_finished(self, result: RunResult) -> None:
        self.latest.result = result
        self._show_status()  # the last step, before the ETA goes
        if result.status == "failed":
            self.status.show_phase("")
            self.banner.show_message(f"Training stopped: {result.message}", "error")
        else:
            saved = f" Model saved to {result.model_path}." if result.model_path else ""
            said = result.message[:1].upper() + result.message[1:]  # a sentence here
            self.status.show_phase(f"{said}.{saved}")
        self.status.show_eta(None)
        self._validate()

    # ---------------------------------------------------------------------------------
    # Recent files and dropped files (see FileActions.drop_path)

    def _open_recent(self, kind: str, path: str) -> None:
        if self.session.active:
            return
        if not Path(path).exists():
            self.banner.show_message(f"{path} no longer exists.", "warning")
            return
        if kind == "model":
            self.files.open_model(path)
        elif kind == "run":
            self.resume_run(path)
        elif kind == "follow":
            self.follow.follow_run(path)
        else:
            self.setup.dataset.add_dataset_path(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and not self.session.active:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        urls = event.mimeData().urls()
        if not urls or not urls[0].isLocalFile():
            return
        self.files.drop_path(urls[0].toLocalFile())
        event.acceptProposedAction()

    # ---------------------------------------------------------------------------------
    # Closing

    def _ask_save_dialog(self) -> str:
        """'save', 'discard' or 'cancel', asked in a message box."""
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
            self.session.stop(save=answer == "save", measure=False)  # closing: no waiting
        self.follow.stop_following(quiet=True)
        self.saved_state.save()
        if not self.session.wait(30_000):
            log.error("the training thread did not stop within 30 s")
        self.explorer.close_renderer()
        self.tasks.cancel_all()
        for thread in running_threads():
            thread.wait(30_000)
        event.accept()
