"""Following a run folder written elsewhere (File > Follow run folder...).

A bar above the tabs says which run is followed, how far it is and when it last changed,
with *Explore newest model* and *Stop following*. The Train tab's curves and samples and the
Diagnose tab's quality curves and warnings show the run as its files grow. Every poll runs
in a background thread (a network share can be slow to answer, and the first read of a long
log takes a while); the next one starts when the previous one has returned, about once a
second. Nothing is written into the followed folder: core.runs.follow only reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QWidget,
)

from ganstudio.gui.diagnose.tab import DiagnoseTab
from ganstudio.gui.threads import Task
from ganstudio.gui.train.training import TrainingSession
from ganstudio.gui.widgets.banner import Banner
from ganstudio.gui.widgets.curves import CurvesPanel
from ganstudio.gui.widgets.samples_view import SamplesView
from ganstudio.gui.widgets.status_bar import RunStatusBar

if TYPE_CHECKING:
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.quality.warnings import TrainingWarning
    from ganstudio.core.runs.follow import FollowUpdate, RunFollower, RunInfo

POLL_MS = 1000
IDLE_DIAGNOSE = (
    "A followed run shows the quality it measured and the warnings it raised (right). "
    "The discriminator's view and the 2-D lab need training in this window."
)


class FollowBar(QFrame):
    """What is followed, and the two buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("follow_bar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_label = QLabel()
        self.explore = QPushButton("Explore newest model")
        self.explore.setToolTip("Open the newest model file of the run in the Explore tab")
        self.explore.setEnabled(False)
        self.stop = QPushButton("Stop following")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.model_label)
        row.addWidget(self.explore)
        row.addWidget(self.stop)
        self.tone = ""
        self.set_tone("info")
        self.hide()

    def set_tone(self, tone: str) -> None:
        """info (blue), warning (amber: stalled, failed) or done (grey: the run ended)."""
        if tone == self.tone:
            return
        self.tone = tone
        bg, fg = {"warning": ("#fff4e0", "#7a4b00"), "done": ("#eeeeee", "#333333")}.get(
            tone, ("#eef3fb", "#1f3b63")
        )
        self.setStyleSheet(
            f"#follow_bar {{ background: {bg}; border-radius: 4px; }} "
            f"#follow_bar > QLabel {{ color: {fg}; }}"
        )


@dataclass(frozen=True)
class FollowPayload:
    """One poll's news, ready for the widgets (made in the polling thread)."""

    update: FollowUpdate
    steps: np.ndarray  # the new curve points
    stats: np.ndarray  # (n, 6) in core.training.events.STAT_NAMES order
    quality: tuple[Quality, ...]
    warnings: tuple[TrainingWarning, ...]
    coverage: dict | None  # the newest "coverage" record (2-D mixtures)
    images_per_s: float | None
    augment_p: float | None  # --augment auto: the newest probability of augmenting


class _Poller:
    """Called in a background thread, one call at a time: opens the folder on the first
    call (RunFolderError if it is no run folder), then returns a FollowPayload."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.follower: RunFollower | None = None
        self.succeeded = False  # a poll has returned: later failures may pass

    def __call__(self, progress: Callable[[int, int], None]) -> FollowPayload:
        from ganstudio.core.runs import follow
        from ganstudio.core.runs import records as follow_records
        from ganstudio.core.runs.reader import is_number

        if self.follower is None:
            self.follower = follow.RunFollower(self.folder)
        u = self.follower.poll()
        records = u.records
        steps, stats = follow_records.curve_points(records)
        train = [r for r in records if r.get("type") == "train"]
        speed = train[-1].get("images_per_s") if train else None
        aug = train[-1].get("augment_p") if train else None
        return FollowPayload(
            update=u,
            steps=steps,
            stats=stats,
            quality=tuple(follow_records.quality_events(records)),
            warnings=tuple(follow_records.training_warnings(records)),
            coverage=follow_records.newest_coverage(records),
            images_per_s=float(speed) if isinstance(speed, (int, float)) else None,
            augment_p=float(aug) if is_number(aug) else None,
        )


class FollowController(QObject):
    """Follows one run folder at a time for the window ``parent`` (dialogs open over it).

    Shows the run in the ``curves``, the ``samples`` view, the ``diagnose`` tab, the
    ``status`` bar and its own ``bar`` (which the window places above the tabs); problems go
    to the ``banner``. Following stops when the ``session`` starts training. Followed
    folders are remembered in ``settings`` and with ``add_recent(kind, path)``; the folder
    dialog starts beside the last one, else in ``runs_dir()``.

    Signals: ``following_changed(bool)``, ``picture_shown()`` (a preview of the run is on
    screen, so there is something to export) and ``open_model_requested(path)`` (Explore
    newest model).
    """

    following_changed = Signal(bool)
    picture_shown = Signal()
    open_model_requested = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        session: TrainingSession,
        curves: CurvesPanel,
        samples: SamplesView,
        diagnose: DiagnoseTab,
        banner: Banner,
        tabs: QTabWidget,
        status: RunStatusBar,
        add_recent: Callable[[str, str], None],
        runs_dir: Callable[[], str],
    ) -> None:
        super().__init__(parent)
        self.window = parent
        self.settings = settings
        self.session = session
        self.curves = curves
        self.samples = samples
        self.diagnose = diagnose
        self.banner = banner
        self.tabs = tabs
        self.status = status
        self.add_recent = add_recent
        self.runs_dir = runs_dir
        self.bar = FollowBar()
        self.bar.explore.clicked.connect(self.explore_newest_model)
        self.bar.stop.clicked.connect(lambda: self.stop_following())
        self._poller: _Poller | None = None
        self._task: Task | None = None
        self.follow_last: FollowUpdate | None = None  # the newest poll's news
        self.follow_info: RunInfo | None = None
        self.follow_model: tuple[Path, int | None] | None = None  # newest model file, step
        self._shown: tuple[np.ndarray, str, str] | None = None  # picture, title, caption
        self._preview: tuple[Path, int | None] | None = None  # its file and step
        self._coverage: dict | None = None
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._tick)
        session.state_changed.connect(self._on_session_state)

    @property
    def following(self) -> Path | None:
        """The followed folder, or None."""
        return None if self._poller is None else self._poller.folder

    # ---------------------------------------------------------------------------------
    # Start and stop

    def follow_run(self, path: str | None = None) -> None:
        """Follow a run folder (asks for one when ``path`` is None)."""
        if self.session.active:
            self.banner.show_message(
                "Stop the training in this window before following another run.", "warning"
            )
            return
        if not path:  # start beside the run followed last: the next one is often there
            last = str(self.settings.value("follow_folder", ""))
            start = str(Path(last).parent) if last else self.runs_dir()
            path = QFileDialog.getExistingDirectory(
                self.window, "Follow a run folder (read only)", start
            )
        if not path:
            return
        folder = Path(path)
        self.settings.setValue("follow_folder", str(folder))
        self.add_recent("follow", str(folder))
        self.stop_following(quiet=True)
        self.banner.hide()
        self._poller = _Poller(folder)
        self.follow_last = self.follow_info = self.follow_model = None
        self._shown = self._coverage = self._preview = None
        self.curves.clear()
        panel = self.diagnose.panel
        panel.clear()
        panel.show_followed_run(IDLE_DIAGNOSE)
        self.samples.set_title(f"Waiting for a preview picture of {folder.name} ...")
        self.bar.label.setText(f"Opening {folder} ...")
        self.bar.model_label.setText("")
        self.bar.explore.setEnabled(False)
        self.bar.set_tone("info")
        self.bar.show()
        self.following_changed.emit(True)
        self.tabs.setCurrentIndex(0)
        self._poll()
        self._timer.start()

    def stop_following(self, note: str = "", quiet: bool = False) -> None:
        """Stop polling; what is on screen stays until something else replaces it."""
        if self._poller is None:
            return
        name = self._poller.folder.name
        self._poller = None
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()  # its thread ends on its own; the result is dropped
            self._task.deleteLater()
            self._task = None
        self.bar.hide()
        self.following_changed.emit(False)
        self.diagnose.panel.end_followed_run()
        if not quiet:
            self.status.showMessage(note or f"Stopped following {name}", 8000)

    def _on_session_state(self, state: str) -> None:
        if state != "idle" and self._poller is not None:
            self.stop_following(
                f"Training started in this window: stopped following {self._poller.folder.name}"
            )

    # ---------------------------------------------------------------------------------
    # Polling

    def _tick(self) -> None:
        if self._task is None:
            self._poll()
        self._show_status()

    def _poll(self) -> None:
        poller = self._poller
        if poller is None:
            return
        task = Task(poller, "follow", self)
        task.done.connect(lambda payload: self._on_update(poller, task, payload))
        task.failed.connect(lambda message: self._on_failed(poller, task, message))
        self._task = task.start()

    def _finish_task(self, task: Task) -> None:
        if self._task is task:
            self._task = None
        task.deleteLater()

    def _on_failed(self, poller: _Poller, task: Task, message: str) -> None:
        self._finish_task(task)
        if poller is not self._poller:
            return
        if not poller.succeeded:  # it never opened: say why and stop
            self.stop_following(quiet=True)
            self.banner.show_message(f"Cannot follow {poller.folder}: {message}", "error")
        else:
            self.bar.label.setText(f"Following {poller.folder.name}: {message}")
            self.bar.set_tone("warning")

    def _on_update(self, poller: _Poller, task: Task, payload: FollowPayload) -> None:
        self._finish_task(task)
        if poller is not self._poller:
            return  # stopped, or another folder followed since
        poller.succeeded = True
        u = payload.update
        if u.info is not None:
            self.follow_info = u.info
            self.bar.label.setToolTip(f"{poller.folder}\n{u.info.describe()}")
            self.curves.set_d_output_is_probability(u.info.probabilistic)
        if u.reset:  # the log was rewritten (a resumed run): start the curves over
            self.curves.clear()
            self.diagnose.panel.clear_history()
        if len(payload.steps):
            self.curves.append(payload.steps, *payload.stats.T)
        for q in payload.quality:
            self.diagnose.show_quality(q)
        for w in payload.warnings:
            self.diagnose.show_warning(w)
        if payload.coverage is not None:
            self._coverage = payload.coverage
        if u.picture is not None and u.preview is not None:
            self._shown = self._preview_texts(u.picture, u.preview, u.preview_step)
            self._preview = (u.preview, u.preview_step)
        if self._shown is not None and not self.samples.shows(self._shown[0]):
            self.samples.show_images(*self._shown)  # new, or replaced by an opened model
            self.picture_shown.emit()
        if u.model is not None:
            self.follow_model = (u.model, u.model_step)
            self.bar.model_label.setText(f"{u.model.name} (step {u.model_step:,})")
            self.bar.explore.setEnabled(True)
        self.follow_last = u
        self.status.show_step(u.step, u.total_steps)
        if payload.images_per_s is not None:
            self.status.show_speed(payload.images_per_s)
        self.status.show_eta(None)
        self.status.show_memory(None)
        self.status.show_augment(payload.augment_p)
        self._show_status()
        if u.more:  # a long log is read in pieces: the next one now
            self._poll()

    def _preview_texts(
        self, picture: np.ndarray, preview: Path, step: int | None
    ) -> tuple[np.ndarray, str, str]:
        name = self.follow_info.name if self.follow_info else preview.parent.parent.name
        title = f"Step {step:,}: the newest preview of {name}"
        caption = f"{preview.parent.name}/{preview.name}"
        c = self._coverage
        if c is not None and self.follow_info is not None and self.follow_info.kind == "points":
            caption = (
                f"Mode coverage at step {c.get('step', 0):,}: {c.get('modes_captured')} of "
                f"{c.get('n_modes')} modes captured, {float(c.get('hq_fraction', 0)):.1%} of "
                f"samples high quality. {caption}"
            )
        return picture, title, caption

    def _show_status(self) -> None:
        u = self.follow_last
        if self._poller is None or u is None:
            return
        from ganstudio.core.runs.follow import STALLED_AFTER
        from ganstudio.core.runs.records import status_text

        self.bar.label.setText(status_text(u, self._poller.folder.name))

        stalled = u.status == "running" and time.time() - u.updated >= STALLED_AFTER
        self.bar.set_tone(
            "warning"
            if stalled or u.status == "failed" or u.problem
            else "done"
            if u.status in ("completed", "stopped")
            else "info"
        )

    # ---------------------------------------------------------------------------------

    def followed_preview(self) -> dict[str, str] | None:
        """Provenance of the followed run's preview when it is the picture on screen."""
        shown, preview = self._shown, self._preview
        if self._poller is None or shown is None or preview is None:
            return None
        if not self.samples.shows(shown[0]):
            return None
        path, step = preview
        return {
            "ganstudio.run": str(self._poller.folder),
            "ganstudio.step": str(step),
            "ganstudio.preview": f"{path.parent.name}/{path.name}",
        }

    def explore_newest_model(self) -> None:
        """Open the newest model file of the followed run in the Explore tab (read only)."""
        if self.follow_model is None:
            return
        path, _step = self.follow_model
        if not path.exists():
            self.banner.show_message(
                f"{path.name} is gone (the run keeps only its newest checkpoints); the next "
                "poll finds the newest one.",
                "warning",
            )
            return
        self.open_model_requested.emit(str(path))
